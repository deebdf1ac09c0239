//! A hardened mailbox host (VMM side), written from docs/hardened.md ("Implementing it:
//! each side's steps", Host 1-6), that speaks `mhmailbox-wire 1` (docs/wire.md) on its
//! stdin/stdout so that `mhmailbox conform --exec` can check it.
//!
//! Every access to the shared area goes through `Mailbox`: it announces the access on
//! stdout, waits for the suite when the access is a read (the scheduling point), then
//! makes it on the mailbox file. std only.
//!
//! `--fault seq-not-checked` builds in one fault on purpose: any nonzero `done` is taken
//! as the completion (the sequence number is not compared), so that a test can show the
//! suite catches it (host/stale-completion, order.response).

use std::fs::{File, OpenOptions};
use std::io::{self, BufRead, BufWriter, Write};
use std::os::unix::fs::FileExt;

const CMD_TYPE: u64 = 0x000;
const GPA: u64 = 0x008;
const RET: u64 = 0x014;
const GO: u64 = 0x018;
const DONE: u64 = 0x01c;
const HDR_LEN: u64 = 0x800;
const HDR_DATA: u64 = 0x804;
const IO_PAGE: u64 = 0x1000;
const HDR_MAX: u32 = 1024;
const PAGE_SIZE: usize = 4096;

const INIT: u64 = 0;
const ENCRYPT: u64 = 1;
const DECRYPT: u64 = 2;
const RESET: u64 = 3;

// ---------------------------------------------------------------- a tiny JSON reader
// The suite writes one flat JSON object per line (numbers and strings only), so finding
// `"key":` and reading the value after it is enough here.

fn field<'a>(line: &'a str, key: &str) -> Option<&'a str> {
    let pat = format!("\"{}\"", key);
    let mut from = 0;
    while let Some(i) = line[from..].find(&pat) {
        let rest = line[from + i + pat.len()..].trim_start();
        if let Some(v) = rest.strip_prefix(':') {
            return Some(v.trim_start());
        }
        from += i + pat.len();
    }
    None
}

fn num(line: &str, key: &str) -> Option<u64> {
    let v = field(line, key)?;
    let end = v.find(|c: char| !c.is_ascii_digit()).unwrap_or(v.len());
    v[..end].parse().ok()
}

fn string<'a>(line: &'a str, key: &str) -> Option<&'a str> {
    let v = field(line, key)?.strip_prefix('"')?;
    Some(&v[..v.find('"')?])
}

fn unhex(s: &str) -> Option<Vec<u8>> {
    if s.len() % 2 != 0 {
        return None;
    }
    (0..s.len()).step_by(2).map(|i| u8::from_str_radix(&s[i..i + 2], 16).ok()).collect()
}

fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{:02x}", x)).collect()
}

fn quoted(s: &str) -> String {
    s.replace('\\', "\\\\").replace('"', "\\\"")
}

// ---------------------------------------------------------------- the wire and the mailbox

struct Mailbox {
    file: File,
    input: io::StdinLock<'static>,
    out: BufWriter<io::StdoutLock<'static>>,
}

impl Mailbox {
    fn say(&mut self, line: &str) {
        // writes and barriers are not answered: they go out with the next line we wait on
        let _ = writeln!(self.out, "{}", line);
    }

    fn ask(&mut self, line: &str) -> String {
        self.say(line);
        let _ = self.out.flush();
        let mut answer = String::new();
        match self.input.read_line(&mut answer) {
            Ok(n) if n > 0 => answer,
            _ => std::process::exit(0), // the suite is gone
        }
    }

    /// Read `n` bytes at `off`: announce, wait for the suite, then read the file.
    fn read(&mut self, off: u64, n: usize) -> Vec<u8> {
        self.ask(&format!("{{\"ev\":\"read\",\"off\":{},\"len\":{}}}", off, n));
        let mut b = vec![0u8; n];
        self.file.read_exact_at(&mut b, off).expect("mailbox file");
        b
    }

    fn read_u32(&mut self, off: u64) -> u32 {
        u32::from_le_bytes(self.read(off, 4).try_into().unwrap())
    }

    fn read_i32(&mut self, off: u64) -> i32 {
        i32::from_le_bytes(self.read(off, 4).try_into().unwrap())
    }

    /// Write `data` at `off`: announce it with its value, then write the file.
    fn write(&mut self, off: u64, data: &[u8]) {
        self.say(&format!("{{\"ev\":\"write\",\"off\":{},\"data\":\"{}\"}}", off, hex(data)));
        self.file.write_all_at(data, off).expect("mailbox file");
    }

    fn barrier(&mut self, kind: &str) {
        self.say(&format!("{{\"ev\":\"barrier\",\"kind\":\"{}\"}}", kind));
        std::sync::atomic::fence(match kind {
            "wmb" => std::sync::atomic::Ordering::Release,
            "rmb" => std::sync::atomic::Ordering::Acquire,
            _ => std::sync::atomic::Ordering::SeqCst,
        });
    }

    /// The monotonic clock, in ns (the suite's virtual clock).
    fn now(&mut self) -> u64 {
        let a = self.ask("{\"ev\":\"clock\"}");
        num(&a, "now_ns").unwrap_or(u64::MAX)
    }
}

// ---------------------------------------------------------------- the hardened host

struct Host {
    mb: Mailbox,
    timeout_ns: u64,
    /// the last sequence number published (0: none yet; kept across migrations)
    seq: u32,
    /// a command that timed out and has not been seen done since (0: none)
    pending: u32,
    initialized: bool,
    seq_not_checked: bool,
}

struct Record {
    hdr_len: u32,
    header: Vec<u8>,
    page: Vec<u8>,
}

impl Host {
    /// Host 2: poll done until it is `want`, reading the clock after each poll; past the
    /// deadline, done is read once more.
    fn wait(&mut self, want: u32, deadline: u64) -> bool {
        loop {
            let done = self.mb.read_i32(DONE) as u32;
            if done == want || (self.seq_not_checked && done != 0) {
                return true;
            }
            if self.mb.now() >= deadline {
                if self.seq_not_checked {
                    return false;
                }
                return self.mb.read_i32(DONE) as u32 == want;
            }
        }
    }

    /// Host 1 from row 4: publish (cmd, gpa) under a new sequence number and wait for it.
    fn publish_and_wait(&mut self, cmd: u64, gpa: u64, deadline: u64) -> Result<i32, String> {
        self.seq = if self.seq == u32::MAX { 1 } else { self.seq + 1 };
        self.mb.write(CMD_TYPE, &cmd.to_le_bytes());
        self.mb.write(GPA, &gpa.to_le_bytes());
        self.mb.write(RET, &(-1i32).to_le_bytes());
        self.mb.barrier("wmb");
        let seq = self.seq;
        self.mb.write(GO, &seq.to_le_bytes());
        if !self.wait(seq, deadline) {
            self.pending = seq;
            return Err(format!("command {} (seq {}) timed out", cmd, seq));
        }
        self.mb.barrier("rmb");
        Ok(self.mb.read_i32(RET))
    }

    /// Host 1: a pending command is waited out first, within this command's deadline.
    fn send(&mut self, cmd: u64, gpa: u64) -> Result<i32, String> {
        let deadline = self.mb.now().saturating_add(self.timeout_ns);
        self.quiesce(deadline)?;
        self.publish_and_wait(cmd, gpa, deadline)
    }

    fn quiesce(&mut self, deadline: u64) -> Result<(), String> {
        if self.pending != 0 {
            let p = self.pending;
            if !self.wait(p, deadline) {
                return Err(format!("the helper still serves seq {}", p));
            }
            self.pending = 0;
        }
        Ok(())
    }

    /// Host 3: INIT when needed; it must succeed.
    fn init_if_needed(&mut self) -> Result<(), String> {
        if !self.initialized {
            match self.send(INIT, 0)? {
                0 => self.initialized = true,
                r => return Err(format!("INIT refused (ret {})", r)),
            }
        }
        Ok(())
    }

    /// Host 4: ENCRYPT; hdr.len read once, checked, then private copies.
    fn save(&mut self, gpa: u64) -> Result<Record, String> {
        self.init_if_needed()?;
        match self.send(ENCRYPT, gpa)? {
            0 => {}
            r => return Err(format!("ENCRYPT {:#x} failed (ret {})", gpa, r)),
        }
        let len = self.mb.read_u32(HDR_LEN);
        if len > HDR_MAX {
            return Err(format!("response header length {} > {}", len, HDR_MAX));
        }
        let header = if len > 0 { self.mb.read(HDR_DATA, len as usize) } else { Vec::new() };
        let page = self.mb.read(IO_PAGE, PAGE_SIZE);
        Ok(Record { hdr_len: len, header, page })
    }

    /// Host 5: DECRYPT; the request is written only once no command is pending.
    fn load(&mut self, gpa: u64, rec: &Record) -> Result<(), String> {
        if rec.hdr_len > HDR_MAX || rec.header.len() != rec.hdr_len as usize || rec.page.len() != PAGE_SIZE {
            return Err("malformed record".into());
        }
        self.init_if_needed()?;
        let deadline = self.mb.now().saturating_add(self.timeout_ns);
        self.quiesce(deadline)?;
        self.mb.write(HDR_LEN, &rec.hdr_len.to_le_bytes());
        if !rec.header.is_empty() {
            self.mb.write(HDR_DATA, &rec.header);
        }
        self.mb.write(IO_PAGE, &rec.page);
        match self.publish_and_wait(DECRYPT, gpa, deadline)? {
            0 => Ok(()),
            -2 => Err(format!("DECRYPT {:#x}: the page did not authenticate", gpa)),
            r => Err(format!("DECRYPT {:#x} failed (ret {})", gpa, r)),
        }
    }

    /// Host 6: RESET; initialized is cleared whatever the result.
    fn cleanup(&mut self) -> Result<(), String> {
        let r = self.send(RESET, 0);
        self.initialized = false;
        match r? {
            0 => Ok(()),
            r => Err(format!("RESET failed (ret {})", r)),
        }
    }
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let seq_not_checked = match args.iter().map(String::as_str).collect::<Vec<_>>().as_slice() {
        [] => false,
        ["--fault", "seq-not-checked"] => true,
        _ => {
            eprintln!("usage: hardened-host [--fault seq-not-checked]");
            std::process::exit(2);
        }
    };
    let mut input = io::stdin().lock();
    let mut hello = String::new();
    if input.read_line(&mut hello).unwrap_or(0) == 0 || string(&hello, "wire") != Some("mhmailbox-wire 1") {
        eprintln!("hardened-host: expected the suite's hello ({{\"wire\": \"mhmailbox-wire 1\", ...}})");
        std::process::exit(2);
    }
    let path = string(&hello, "mailbox").map(String::from).or_else(|| std::env::var("MHWIRE_MAILBOX").ok());
    let file = match path.as_deref().map(|p| OpenOptions::new().read(true).write(true).open(p)) {
        Some(Ok(f)) => f,
        _ => {
            eprintln!("hardened-host: cannot open the mailbox file {:?}", path);
            std::process::exit(2);
        }
    };
    let mb = Mailbox { file, input, out: BufWriter::new(io::stdout().lock()) };
    let timeout_ns = num(&hello, "deadline_ns").unwrap_or(100_000_000);
    let mut host = Host { mb, timeout_ns, seq: 0, pending: 0, initialized: false, seq_not_checked };
    host.mb.say("{\"wire\":\"mhmailbox-wire 1\",\"name\":\"rust hardened host\",\"operations\":[\"init\",\"save\",\"load\",\"cleanup\"]}");
    let _ = host.mb.out.flush();
    loop {
        let mut line = String::new();
        if host.mb.input.read_line(&mut line).unwrap_or(0) == 0 {
            return; // the suite closed our stdin: we are done
        }
        let gpa = num(&line, "gpa").unwrap_or(0);
        let result = match string(&line, "op") {
            Some("init") => host.init_if_needed().map(|_| String::new()),
            Some("save") => host.save(gpa).map(|r| {
                format!(",\"hdr_len\":{},\"header\":\"{}\",\"page\":\"{}\"", r.hdr_len, hex(&r.header), hex(&r.page))
            }),
            Some("load") => {
                let rec = (|| {
                    Some(Record {
                        hdr_len: u32::try_from(num(&line, "hdr_len")?).ok()?,
                        header: unhex(string(&line, "header")?)?,
                        page: unhex(string(&line, "page")?)?,
                    })
                })();
                match rec {
                    Some(rec) => host.load(gpa, &rec).map(|_| String::new()),
                    None => Err("malformed load request".into()),
                }
            }
            Some("cleanup") => host.cleanup().map(|_| String::new()),
            _ => Err(format!("unknown operation: {}", line.trim())),
        };
        match result {
            Ok(extra) => host.mb.say(&format!("{{\"result\":\"ok\"{}}}", extra)),
            Err(e) => host.mb.say(&format!("{{\"result\":\"failed\",\"error\":\"{}\"}}", quoted(&e))),
        }
        let _ = host.mb.out.flush();
    }
}
