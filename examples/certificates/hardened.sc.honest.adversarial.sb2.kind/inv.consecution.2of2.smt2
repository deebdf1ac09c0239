; mhmailbox proof certificate: hardened/sc/honest/adversarial/sb=2, the invariant inv
; obligation: consecution (every transition preserves the invariant)
; part: the conjuncts 73 to 144 of Inv after the step
; expected: unsat
(set-logic QF_LIA)
(define-fun Inv ((guest.pc@s Int) (guest.go@s Int) (guest.cmd@s Int) (guest.gpa@s Int) (guest.io@s Int) (guest.ret@s Int) (guest.did@s Int) (guest.init@s Int) (guest.last@s Int) (guest.epoch@s Int) (v.guest.confidential@s Int) (v.guest.refusal-reported@s Int) (v.guest.integrity@s Int) (v.guest.gpa-checked@s Int)) Bool (and
  ; always: guest only at reached steps (10)
  (or (= 1 guest.pc@s) (= 2 guest.pc@s) (= 3 guest.pc@s) (= 4 guest.pc@s) (= 6 guest.pc@s) (= 7 guest.pc@s) (= 8 guest.pc@s) (= 10 guest.pc@s) (= 11 guest.pc@s) (= 12 guest.pc@s))
  ; always: v.guest.confidential == 0
  (= 0 v.guest.confidential@s)
  ; always: v.guest.integrity == 0
  (= 0 v.guest.integrity@s)
  ; always: v.guest.gpa-checked == 0
  (= 0 v.guest.gpa-checked@s)
  ; always: guest.pc >= 1
  (<= 1 guest.pc@s)
  ; always: guest.pc <= 12
  (>= 12 guest.pc@s)
  ; always: guest.cmd >= 0
  (<= 0 guest.cmd@s)
  ; always: guest.gpa in [0, 1, 2, 3]
  (or (= 0 guest.gpa@s) (= 1 guest.gpa@s) (= 2 guest.gpa@s) (= 3 guest.gpa@s))
  ; always: guest.gpa >= 0
  (<= 0 guest.gpa@s)
  ; always: guest.gpa <= 3
  (>= 3 guest.gpa@s)
  ; always: guest.io >= 0
  (<= 0 guest.io@s)
  ; always: guest.ret in [-2, -1, 0]
  (or (= (- 2) guest.ret@s) (= (- 1) guest.ret@s) (= 0 guest.ret@s))
  ; always: guest.ret >= -2
  (<= (- 2) guest.ret@s)
  ; always: guest.ret <= 0
  (>= 0 guest.ret@s)
  ; always: guest.did >= 0
  (<= 0 guest.did@s)
  ; always: guest.did <= 1
  (>= 1 guest.did@s)
  ; always: guest.init >= 0
  (<= 0 guest.init@s)
  ; always: guest.init <= 1
  (>= 1 guest.init@s)
  ; always: guest.epoch >= 0
  (<= 0 guest.epoch@s)
  ; always: 0 <= v.guest.confidential <= 1
  (and (<= 0 v.guest.confidential@s) (>= 1 v.guest.confidential@s))
  ; always: 0 <= v.guest.refusal-reported <= 1
  (and (<= 0 v.guest.refusal-reported@s) (>= 1 v.guest.refusal-reported@s))
  ; always: 0 <= v.guest.integrity <= 1
  (and (<= 0 v.guest.integrity@s) (>= 1 v.guest.integrity@s))
  ; always: 0 <= v.guest.gpa-checked <= 1
  (and (<= 0 v.guest.gpa-checked@s) (>= 1 v.guest.gpa-checked@s))
  ; guest at wait: guest.cmd == 0
  (or (not (= 1 guest.pc@s)) (= 0 guest.cmd@s))
  ; guest at wait: guest.gpa == 0
  (or (not (= 1 guest.pc@s)) (= 0 guest.gpa@s))
  ; guest at wait: guest.io == 0
  (or (not (= 1 guest.pc@s)) (= 0 guest.io@s))
  ; guest at wait: guest.ret == 0
  (or (not (= 1 guest.pc@s)) (= 0 guest.ret@s))
  ; guest at wait: guest.did == 0
  (or (not (= 1 guest.pc@s)) (= 0 guest.did@s))
  ; guest at wait: v.guest.confidential == 0
  (or (not (= 1 guest.pc@s)) (= 0 v.guest.confidential@s))
  ; guest at wait: v.guest.integrity == 0
  (or (not (= 1 guest.pc@s)) (= 0 v.guest.integrity@s))
  ; guest at wait: v.guest.gpa-checked == 0
  (or (not (= 1 guest.pc@s)) (= 0 v.guest.gpa-checked@s))
  ; guest at wait: guest.init >= 0
  (or (not (= 1 guest.pc@s)) (<= 0 guest.init@s))
  ; guest at wait: guest.init <= 1
  (or (not (= 1 guest.pc@s)) (>= 1 guest.init@s))
  ; guest at wait: guest.epoch >= 0
  (or (not (= 1 guest.pc@s)) (<= 0 guest.epoch@s))
  ; guest at accept: guest.cmd == 0
  (or (not (= 2 guest.pc@s)) (= 0 guest.cmd@s))
  ; guest at accept: guest.gpa == 0
  (or (not (= 2 guest.pc@s)) (= 0 guest.gpa@s))
  ; guest at accept: guest.io == 0
  (or (not (= 2 guest.pc@s)) (= 0 guest.io@s))
  ; guest at accept: guest.ret == 0
  (or (not (= 2 guest.pc@s)) (= 0 guest.ret@s))
  ; guest at accept: guest.did == 0
  (or (not (= 2 guest.pc@s)) (= 0 guest.did@s))
  ; guest at accept: v.guest.confidential == 0
  (or (not (= 2 guest.pc@s)) (= 0 v.guest.confidential@s))
  ; guest at accept: v.guest.integrity == 0
  (or (not (= 2 guest.pc@s)) (= 0 v.guest.integrity@s))
  ; guest at accept: v.guest.gpa-checked == 0
  (or (not (= 2 guest.pc@s)) (= 0 v.guest.gpa-checked@s))
  ; guest at accept: guest.init >= 0
  (or (not (= 2 guest.pc@s)) (<= 0 guest.init@s))
  ; guest at accept: guest.init <= 1
  (or (not (= 2 guest.pc@s)) (>= 1 guest.init@s))
  ; guest at accept: guest.epoch >= 0
  (or (not (= 2 guest.pc@s)) (<= 0 guest.epoch@s))
  ; guest at cmd: guest.cmd == 0
  (or (not (= 3 guest.pc@s)) (= 0 guest.cmd@s))
  ; guest at cmd: guest.gpa == 0
  (or (not (= 3 guest.pc@s)) (= 0 guest.gpa@s))
  ; guest at cmd: guest.io == 0
  (or (not (= 3 guest.pc@s)) (= 0 guest.io@s))
  ; guest at cmd: guest.ret == 0
  (or (not (= 3 guest.pc@s)) (= 0 guest.ret@s))
  ; guest at cmd: guest.did == 0
  (or (not (= 3 guest.pc@s)) (= 0 guest.did@s))
  ; guest at cmd: v.guest.confidential == 0
  (or (not (= 3 guest.pc@s)) (= 0 v.guest.confidential@s))
  ; guest at cmd: v.guest.integrity == 0
  (or (not (= 3 guest.pc@s)) (= 0 v.guest.integrity@s))
  ; guest at cmd: v.guest.gpa-checked == 0
  (or (not (= 3 guest.pc@s)) (= 0 v.guest.gpa-checked@s))
  ; guest at cmd: guest.init >= 0
  (or (not (= 3 guest.pc@s)) (<= 0 guest.init@s))
  ; guest at cmd: guest.init <= 1
  (or (not (= 3 guest.pc@s)) (>= 1 guest.init@s))
  ; guest at cmd: guest.epoch >= 0
  (or (not (= 3 guest.pc@s)) (<= 0 guest.epoch@s))
  ; guest at gpa: guest.gpa == 0
  (or (not (= 4 guest.pc@s)) (= 0 guest.gpa@s))
  ; guest at gpa: guest.io == 0
  (or (not (= 4 guest.pc@s)) (= 0 guest.io@s))
  ; guest at gpa: guest.ret == 0
  (or (not (= 4 guest.pc@s)) (= 0 guest.ret@s))
  ; guest at gpa: guest.did == 0
  (or (not (= 4 guest.pc@s)) (= 0 guest.did@s))
  ; guest at gpa: v.guest.confidential == 0
  (or (not (= 4 guest.pc@s)) (= 0 v.guest.confidential@s))
  ; guest at gpa: v.guest.integrity == 0
  (or (not (= 4 guest.pc@s)) (= 0 v.guest.integrity@s))
  ; guest at gpa: v.guest.gpa-checked == 0
  (or (not (= 4 guest.pc@s)) (= 0 v.guest.gpa-checked@s))
  ; guest at gpa: guest.cmd >= 0
  (or (not (= 4 guest.pc@s)) (<= 0 guest.cmd@s))
  ; guest at gpa: guest.init >= 0
  (or (not (= 4 guest.pc@s)) (<= 0 guest.init@s))
  ; guest at gpa: guest.init <= 1
  (or (not (= 4 guest.pc@s)) (>= 1 guest.init@s))
  ; guest at gpa: guest.epoch >= 0
  (or (not (= 4 guest.pc@s)) (<= 0 guest.epoch@s))
  ; guest at save: guest.cmd == 1
  (or (not (= 6 guest.pc@s)) (= 1 guest.cmd@s))
  ; guest at save: guest.io == 0
  (or (not (= 6 guest.pc@s)) (= 0 guest.io@s))
  ; guest at save: guest.ret == -1
  (or (not (= 6 guest.pc@s)) (= (- 1) guest.ret@s))
  ; guest at save: guest.did == 0
  (or (not (= 6 guest.pc@s)) (= 0 guest.did@s))
  ; guest at save: guest.init == 1
  (or (not (= 6 guest.pc@s)) (= 1 guest.init@s))
  ; guest at save: v.guest.confidential == 0
  (or (not (= 6 guest.pc@s)) (= 0 v.guest.confidential@s))
  ; guest at save: v.guest.integrity == 0
  (or (not (= 6 guest.pc@s)) (= 0 v.guest.integrity@s))
  ; guest at save: v.guest.gpa-checked == 0
  (or (not (= 6 guest.pc@s)) (= 0 v.guest.gpa-checked@s))
  ; guest at save: guest.gpa >= 0
  (or (not (= 6 guest.pc@s)) (<= 0 guest.gpa@s))
  ; guest at save: guest.gpa <= 1
  (or (not (= 6 guest.pc@s)) (>= 1 guest.gpa@s))
  ; guest at save.hdr: guest.cmd == 1
  (or (not (= 7 guest.pc@s)) (= 1 guest.cmd@s))
  ; guest at save.hdr: guest.io == 0
  (or (not (= 7 guest.pc@s)) (= 0 guest.io@s))
  ; guest at save.hdr: guest.ret == -1
  (or (not (= 7 guest.pc@s)) (= (- 1) guest.ret@s))
  ; guest at save.hdr: guest.did == 0
  (or (not (= 7 guest.pc@s)) (= 0 guest.did@s))
  ; guest at save.hdr: guest.init == 1
  (or (not (= 7 guest.pc@s)) (= 1 guest.init@s))
  ; guest at save.hdr: v.guest.confidential == 0
  (or (not (= 7 guest.pc@s)) (= 0 v.guest.confidential@s))
  ; guest at save.hdr: v.guest.integrity == 0
  (or (not (= 7 guest.pc@s)) (= 0 v.guest.integrity@s))
  ; guest at save.hdr: v.guest.gpa-checked == 0
  (or (not (= 7 guest.pc@s)) (= 0 v.guest.gpa-checked@s))
  ; guest at save.hdr: guest.gpa >= 0
  (or (not (= 7 guest.pc@s)) (<= 0 guest.gpa@s))
  ; guest at save.hdr: guest.gpa <= 1
  (or (not (= 7 guest.pc@s)) (>= 1 guest.gpa@s))
  ; guest at restore: guest.cmd == 2
  (or (not (= 8 guest.pc@s)) (= 2 guest.cmd@s))
  ; guest at restore: guest.io == 0
  (or (not (= 8 guest.pc@s)) (= 0 guest.io@s))
  ; guest at restore: guest.ret == -1
  (or (not (= 8 guest.pc@s)) (= (- 1) guest.ret@s))
  ; guest at restore: guest.did == 0
  (or (not (= 8 guest.pc@s)) (= 0 guest.did@s))
  ; guest at restore: guest.init == 1
  (or (not (= 8 guest.pc@s)) (= 1 guest.init@s))
  ; guest at restore: v.guest.confidential == 0
  (or (not (= 8 guest.pc@s)) (= 0 v.guest.confidential@s))
  ; guest at restore: v.guest.integrity == 0
  (or (not (= 8 guest.pc@s)) (= 0 v.guest.integrity@s))
  ; guest at restore: v.guest.gpa-checked == 0
  (or (not (= 8 guest.pc@s)) (= 0 v.guest.gpa-checked@s))
  ; guest at restore: guest.gpa >= 0
  (or (not (= 8 guest.pc@s)) (<= 0 guest.gpa@s))
  ; guest at restore: guest.gpa <= 1
  (or (not (= 8 guest.pc@s)) (>= 1 guest.gpa@s))
  ; guest at ret: v.guest.confidential == 0
  (or (not (= 10 guest.pc@s)) (= 0 v.guest.confidential@s))
  ; guest at ret: v.guest.integrity == 0
  (or (not (= 10 guest.pc@s)) (= 0 v.guest.integrity@s))
  ; guest at ret: v.guest.gpa-checked == 0
  (or (not (= 10 guest.pc@s)) (= 0 v.guest.gpa-checked@s))
  ; guest at ret: guest.cmd >= 0
  (or (not (= 10 guest.pc@s)) (<= 0 guest.cmd@s))
  ; guest at ret: guest.gpa in [0, 1, 2, 3]
  (or (not (= 10 guest.pc@s)) (= 0 guest.gpa@s) (= 1 guest.gpa@s) (= 2 guest.gpa@s) (= 3 guest.gpa@s))
  ; guest at ret: guest.gpa >= 0
  (or (not (= 10 guest.pc@s)) (<= 0 guest.gpa@s))
  ; guest at ret: guest.gpa <= 3
  (or (not (= 10 guest.pc@s)) (>= 3 guest.gpa@s))
  ; guest at ret: guest.io >= 0
  (or (not (= 10 guest.pc@s)) (<= 0 guest.io@s))
  ; guest at ret: guest.ret in [-2, -1, 0]
  (or (not (= 10 guest.pc@s)) (= (- 2) guest.ret@s) (= (- 1) guest.ret@s) (= 0 guest.ret@s))
  ; guest at ret: guest.ret >= -2
  (or (not (= 10 guest.pc@s)) (<= (- 2) guest.ret@s))
  ; guest at ret: guest.ret <= 0
  (or (not (= 10 guest.pc@s)) (>= 0 guest.ret@s))
  ; guest at ret: guest.did >= 0
  (or (not (= 10 guest.pc@s)) (<= 0 guest.did@s))
  ; guest at ret: guest.did <= 1
  (or (not (= 10 guest.pc@s)) (>= 1 guest.did@s))
  ; guest at ret: guest.init >= 0
  (or (not (= 10 guest.pc@s)) (<= 0 guest.init@s))
  ; guest at ret: guest.init <= 1
  (or (not (= 10 guest.pc@s)) (>= 1 guest.init@s))
  ; guest at ret: guest.epoch >= 0
  (or (not (= 10 guest.pc@s)) (<= 0 guest.epoch@s))
  ; guest at wmb: v.guest.confidential == 0
  (or (not (= 11 guest.pc@s)) (= 0 v.guest.confidential@s))
  ; guest at wmb: v.guest.integrity == 0
  (or (not (= 11 guest.pc@s)) (= 0 v.guest.integrity@s))
  ; guest at wmb: v.guest.gpa-checked == 0
  (or (not (= 11 guest.pc@s)) (= 0 v.guest.gpa-checked@s))
  ; guest at wmb: guest.cmd >= 0
  (or (not (= 11 guest.pc@s)) (<= 0 guest.cmd@s))
  ; guest at wmb: guest.gpa in [0, 1, 2, 3]
  (or (not (= 11 guest.pc@s)) (= 0 guest.gpa@s) (= 1 guest.gpa@s) (= 2 guest.gpa@s) (= 3 guest.gpa@s))
  ; guest at wmb: guest.gpa >= 0
  (or (not (= 11 guest.pc@s)) (<= 0 guest.gpa@s))
  ; guest at wmb: guest.gpa <= 3
  (or (not (= 11 guest.pc@s)) (>= 3 guest.gpa@s))
  ; guest at wmb: guest.io >= 0
  (or (not (= 11 guest.pc@s)) (<= 0 guest.io@s))
  ; guest at wmb: guest.ret in [-2, -1, 0]
  (or (not (= 11 guest.pc@s)) (= (- 2) guest.ret@s) (= (- 1) guest.ret@s) (= 0 guest.ret@s))
  ; guest at wmb: guest.ret >= -2
  (or (not (= 11 guest.pc@s)) (<= (- 2) guest.ret@s))
  ; guest at wmb: guest.ret <= 0
  (or (not (= 11 guest.pc@s)) (>= 0 guest.ret@s))
  ; guest at wmb: guest.did >= 0
  (or (not (= 11 guest.pc@s)) (<= 0 guest.did@s))
  ; guest at wmb: guest.did <= 1
  (or (not (= 11 guest.pc@s)) (>= 1 guest.did@s))
  ; guest at wmb: guest.init >= 0
  (or (not (= 11 guest.pc@s)) (<= 0 guest.init@s))
  ; guest at wmb: guest.init <= 1
  (or (not (= 11 guest.pc@s)) (>= 1 guest.init@s))
  ; guest at wmb: guest.epoch >= 0
  (or (not (= 11 guest.pc@s)) (<= 0 guest.epoch@s))
  ; guest at done: v.guest.confidential == 0
  (or (not (= 12 guest.pc@s)) (= 0 v.guest.confidential@s))
  ; guest at done: v.guest.integrity == 0
  (or (not (= 12 guest.pc@s)) (= 0 v.guest.integrity@s))
  ; guest at done: v.guest.gpa-checked == 0
  (or (not (= 12 guest.pc@s)) (= 0 v.guest.gpa-checked@s))
  ; guest at done: guest.cmd >= 0
  (or (not (= 12 guest.pc@s)) (<= 0 guest.cmd@s))
  ; guest at done: guest.gpa in [0, 1, 2, 3]
  (or (not (= 12 guest.pc@s)) (= 0 guest.gpa@s) (= 1 guest.gpa@s) (= 2 guest.gpa@s) (= 3 guest.gpa@s))
  ; guest at done: guest.gpa >= 0
  (or (not (= 12 guest.pc@s)) (<= 0 guest.gpa@s))
  ; guest at done: guest.gpa <= 3
  (or (not (= 12 guest.pc@s)) (>= 3 guest.gpa@s))
  ; guest at done: guest.io >= 0
  (or (not (= 12 guest.pc@s)) (<= 0 guest.io@s))
  ; guest at done: guest.ret in [-2, -1, 0]
  (or (not (= 12 guest.pc@s)) (= (- 2) guest.ret@s) (= (- 1) guest.ret@s) (= 0 guest.ret@s))
  ; guest at done: guest.ret >= -2
  (or (not (= 12 guest.pc@s)) (<= (- 2) guest.ret@s))
  ; guest at done: guest.ret <= 0
  (or (not (= 12 guest.pc@s)) (>= 0 guest.ret@s))
  ; guest at done: guest.did >= 0
  (or (not (= 12 guest.pc@s)) (<= 0 guest.did@s))
  ; guest at done: guest.did <= 1
  (or (not (= 12 guest.pc@s)) (>= 1 guest.did@s))
  ; guest at done: guest.init >= 0
  (or (not (= 12 guest.pc@s)) (<= 0 guest.init@s))
  ; guest at done: guest.init <= 1
  (or (not (= 12 guest.pc@s)) (>= 1 guest.init@s))
  ; guest at done: guest.epoch >= 0
  (or (not (= 12 guest.pc@s)) (<= 0 guest.epoch@s))
  true))
(define-fun Trans ((guest.pc@s Int) (guest.go@s Int) (guest.cmd@s Int) (guest.gpa@s Int) (guest.io@s Int) (guest.ret@s Int) (guest.did@s Int) (guest.init@s Int) (guest.last@s Int) (guest.epoch@s Int) (v.guest.confidential@s Int) (v.guest.refusal-reported@s Int) (v.guest.integrity@s Int) (v.guest.gpa-checked@s Int) (guest.pc@t Int) (guest.go@t Int) (guest.cmd@t Int) (guest.gpa@t Int) (guest.io@t Int) (guest.ret@t Int) (guest.did@t Int) (guest.init@t Int) (guest.last@t Int) (guest.epoch@t Int) (v.guest.confidential@t Int) (v.guest.refusal-reported@t Int) (v.guest.integrity@t Int) (v.guest.gpa-checked@t Int) (sel0@x Bool) (sel1@x Bool) (sel2@x Bool) (sel3@x Bool) (sel4@x Bool) (sel5@x Bool) (sel6@x Bool) (sel7@x Bool) (sel8@x Bool) (sel9@x Bool) (sel10@x Bool) (sel11@x Bool) (sel12@x Bool) (p.any_cmd@x Int) (p.any_go@x Int) (p.any_gpa@x Int) (p.any_io@x Int)) Bool
  (let ((a!1 (=> sel0@x (and (= 1 guest.pc@s) (and (distinct 0 p.any_go@x) (distinct p.any_go@x guest.last@s)) true))) (a!2 (and (= 1 guest.pc@s) (not (and (distinct 0 p.any_go@x) (distinct p.any_go@x guest.last@s))) true)) (a!3 (and (= 1 guest.init@s) (or (= 0 p.any_gpa@x) (= 1 p.any_gpa@x)))) (a!4 (or (= p.any_gpa@x 0) (= p.any_gpa@x 1) (= p.any_gpa@x 2) (= p.any_gpa@x 3))) (a!8 (ite sel9@x 10 (ite sel10@x 11 (ite sel11@x 12 (ite sel12@x 1 guest.pc@s))))) (a!11 (= guest.go@t (ite sel0@x p.any_go@x (ite sel1@x p.any_go@x (ite sel12@x 0 guest.go@s))))) (a!12 (ite sel4@x p.any_gpa@x (ite sel5@x p.any_gpa@x (ite sel6@x p.any_gpa@x (ite sel12@x 0 guest.gpa@s))))) (a!13 (ite (or (= 0 guest.cmd@s) (= 3 guest.cmd@s)) 0 (- 1))) (a!14 (ite sel9@x (ite (= p.any_io@x (+ 4 guest.epoch@s guest.epoch@s guest.gpa@s)) 0 (- 2)) (ite sel12@x 0 guest.ret@s))) (a!16 (ite (or (= 0 guest.cmd@s) (= 3 guest.cmd@s)) 1 0)) (a!17 (ite sel9@x (ite (= p.any_io@x (+ 4 guest.epoch@s guest.epoch@s guest.gpa@s)) 1 0) (ite sel12@x 0 guest.did@s))) (a!19 (ite (= 0 guest.cmd@s) 1 (ite (= 3 guest.cmd@s) 0 guest.init@s))) (a!21 (ite (and (= 0 guest.cmd@s) (= 0 guest.init@s)) (+ guest.epoch@s 1) guest.epoch@s)) (a!23 (ite (or (= 1 v.guest.confidential@s) (= 1 (+ 4 guest.epoch@s guest.epoch@s guest.gpa@s)) (= 2 (+ 4 guest.epoch@s guest.epoch@s guest.gpa@s))) 1 0)) (a!24 (ite (or (= 1 v.guest.refusal-reported@s) (and (= 0 guest.ret@s) (= 0 guest.did@s))) 1 0)) (a!25 (or (= 1 v.guest.integrity@s) (and (= p.any_io@x (+ 4 guest.epoch@s guest.epoch@s guest.gpa@s)) (distinct p.any_io@x (+ 4 guest.epoch@s guest.epoch@s guest.gpa@s))))) (a!26 (or (= 1 v.guest.gpa-checked@s) (not (or (= 0 guest.gpa@s) (= 1 guest.gpa@s))))) (a!27 (and (= p.any_io@x (+ 4 guest.epoch@s guest.epoch@s guest.gpa@s)) (not (or (= 0 guest.gpa@s) (= 1 guest.gpa@s)))))) (let ((a!5 (=> sel4@x (and (= 4 guest.pc@s) (and (= 1 guest.cmd@s) a!3) a!4))) (a!6 (and (= 4 guest.pc@s) (not (and (= 1 guest.cmd@s) a!3)) (and (= 2 guest.cmd@s) a!3) a!4)) (a!7 (and (= 4 guest.pc@s) (not (and (= 1 guest.cmd@s) a!3)) (not (and (= 2 guest.cmd@s) a!3)) a!4)) (a!9 (ite sel5@x 8 (ite sel6@x 10 (ite sel7@x 7 (ite sel8@x 10 a!8))))) (a!15 (ite sel4@x a!13 (ite sel5@x a!13 (ite sel6@x a!13 (ite sel8@x 0 a!14))))) (a!18 (ite sel4@x a!16 (ite sel5@x a!16 (ite sel6@x a!16 (ite sel8@x 1 a!17))))) (a!20 (= guest.init@t (ite sel4@x a!19 (ite sel5@x a!19 (ite sel6@x a!19 guest.init@s))))) (a!22 (= guest.epoch@t (ite sel4@x a!21 (ite sel5@x a!21 (ite sel6@x a!21 guest.epoch@s))))) (a!28 (ite sel9@x (ite (or (= 1 v.guest.gpa-checked@s) a!27) 1 0) v.guest.gpa-checked@s))) (let ((a!10 (ite sel1@x 1 (ite sel2@x 3 (ite sel3@x 4 (ite sel4@x 6 a!9)))))) (and (or sel0@x sel1@x sel2@x sel3@x sel4@x sel5@x sel6@x sel7@x sel8@x sel9@x sel10@x sel11@x sel12@x) (<= (+ (ite sel0@x 1 0) (ite sel1@x 1 0) (ite sel2@x 1 0) (ite sel3@x 1 0) (ite sel4@x 1 0) (ite sel5@x 1 0) (ite sel6@x 1 0) (ite sel7@x 1 0) (ite sel8@x 1 0) (ite sel9@x 1 0) (ite sel10@x 1 0) (ite sel11@x 1 0) (ite sel12@x 1 0)) 1) a!1 (=> sel1@x a!2) (=> sel2@x (and (= 2 guest.pc@s))) (=> sel3@x (and (= 3 guest.pc@s) (>= p.any_cmd@x 0))) a!5 (=> sel5@x a!6) (=> sel6@x a!7) (=> sel7@x (and (= 6 guest.pc@s))) (=> sel8@x (and (= 7 guest.pc@s))) (=> sel9@x (and (= 8 guest.pc@s) (>= p.any_io@x 0))) (=> sel10@x (and (= 10 guest.pc@s))) (=> sel11@x (and (= 11 guest.pc@s))) (=> sel12@x (and (= 12 guest.pc@s))) (= guest.pc@t (ite sel0@x 2 a!10)) a!11 (= guest.cmd@t (ite sel3@x p.any_cmd@x (ite sel12@x 0 guest.cmd@s))) (= guest.gpa@t a!12) (= guest.io@t (ite sel9@x p.any_io@x (ite sel12@x 0 guest.io@s))) (= guest.ret@t a!15) (= guest.did@t a!18) a!20 (= guest.last@t (ite sel12@x guest.go@s guest.last@s)) a!22 (= v.guest.confidential@t (ite sel7@x a!23 v.guest.confidential@s)) (= v.guest.refusal-reported@t (ite sel10@x a!24 v.guest.refusal-reported@s)) (= v.guest.integrity@t (ite sel9@x (ite a!25 1 0) v.guest.integrity@s)) (= v.guest.gpa-checked@t (ite sel7@x (ite a!26 1 0) a!28)))))))
(define-fun Part ((guest.pc@s Int) (guest.go@s Int) (guest.cmd@s Int) (guest.gpa@s Int) (guest.io@s Int) (guest.ret@s Int) (guest.did@s Int) (guest.init@s Int) (guest.last@s Int) (guest.epoch@s Int) (v.guest.confidential@s Int) (v.guest.refusal-reported@s Int) (v.guest.integrity@s Int) (v.guest.gpa-checked@s Int)) Bool (and
  ; guest at save: v.guest.integrity == 0
  (or (not (= 6 guest.pc@s)) (= 0 v.guest.integrity@s))
  ; guest at save: v.guest.gpa-checked == 0
  (or (not (= 6 guest.pc@s)) (= 0 v.guest.gpa-checked@s))
  ; guest at save: guest.gpa >= 0
  (or (not (= 6 guest.pc@s)) (<= 0 guest.gpa@s))
  ; guest at save: guest.gpa <= 1
  (or (not (= 6 guest.pc@s)) (>= 1 guest.gpa@s))
  ; guest at save.hdr: guest.cmd == 1
  (or (not (= 7 guest.pc@s)) (= 1 guest.cmd@s))
  ; guest at save.hdr: guest.io == 0
  (or (not (= 7 guest.pc@s)) (= 0 guest.io@s))
  ; guest at save.hdr: guest.ret == -1
  (or (not (= 7 guest.pc@s)) (= (- 1) guest.ret@s))
  ; guest at save.hdr: guest.did == 0
  (or (not (= 7 guest.pc@s)) (= 0 guest.did@s))
  ; guest at save.hdr: guest.init == 1
  (or (not (= 7 guest.pc@s)) (= 1 guest.init@s))
  ; guest at save.hdr: v.guest.confidential == 0
  (or (not (= 7 guest.pc@s)) (= 0 v.guest.confidential@s))
  ; guest at save.hdr: v.guest.integrity == 0
  (or (not (= 7 guest.pc@s)) (= 0 v.guest.integrity@s))
  ; guest at save.hdr: v.guest.gpa-checked == 0
  (or (not (= 7 guest.pc@s)) (= 0 v.guest.gpa-checked@s))
  ; guest at save.hdr: guest.gpa >= 0
  (or (not (= 7 guest.pc@s)) (<= 0 guest.gpa@s))
  ; guest at save.hdr: guest.gpa <= 1
  (or (not (= 7 guest.pc@s)) (>= 1 guest.gpa@s))
  ; guest at restore: guest.cmd == 2
  (or (not (= 8 guest.pc@s)) (= 2 guest.cmd@s))
  ; guest at restore: guest.io == 0
  (or (not (= 8 guest.pc@s)) (= 0 guest.io@s))
  ; guest at restore: guest.ret == -1
  (or (not (= 8 guest.pc@s)) (= (- 1) guest.ret@s))
  ; guest at restore: guest.did == 0
  (or (not (= 8 guest.pc@s)) (= 0 guest.did@s))
  ; guest at restore: guest.init == 1
  (or (not (= 8 guest.pc@s)) (= 1 guest.init@s))
  ; guest at restore: v.guest.confidential == 0
  (or (not (= 8 guest.pc@s)) (= 0 v.guest.confidential@s))
  ; guest at restore: v.guest.integrity == 0
  (or (not (= 8 guest.pc@s)) (= 0 v.guest.integrity@s))
  ; guest at restore: v.guest.gpa-checked == 0
  (or (not (= 8 guest.pc@s)) (= 0 v.guest.gpa-checked@s))
  ; guest at restore: guest.gpa >= 0
  (or (not (= 8 guest.pc@s)) (<= 0 guest.gpa@s))
  ; guest at restore: guest.gpa <= 1
  (or (not (= 8 guest.pc@s)) (>= 1 guest.gpa@s))
  ; guest at ret: v.guest.confidential == 0
  (or (not (= 10 guest.pc@s)) (= 0 v.guest.confidential@s))
  ; guest at ret: v.guest.integrity == 0
  (or (not (= 10 guest.pc@s)) (= 0 v.guest.integrity@s))
  ; guest at ret: v.guest.gpa-checked == 0
  (or (not (= 10 guest.pc@s)) (= 0 v.guest.gpa-checked@s))
  ; guest at ret: guest.cmd >= 0
  (or (not (= 10 guest.pc@s)) (<= 0 guest.cmd@s))
  ; guest at ret: guest.gpa in [0, 1, 2, 3]
  (or (not (= 10 guest.pc@s)) (= 0 guest.gpa@s) (= 1 guest.gpa@s) (= 2 guest.gpa@s) (= 3 guest.gpa@s))
  ; guest at ret: guest.gpa >= 0
  (or (not (= 10 guest.pc@s)) (<= 0 guest.gpa@s))
  ; guest at ret: guest.gpa <= 3
  (or (not (= 10 guest.pc@s)) (>= 3 guest.gpa@s))
  ; guest at ret: guest.io >= 0
  (or (not (= 10 guest.pc@s)) (<= 0 guest.io@s))
  ; guest at ret: guest.ret in [-2, -1, 0]
  (or (not (= 10 guest.pc@s)) (= (- 2) guest.ret@s) (= (- 1) guest.ret@s) (= 0 guest.ret@s))
  ; guest at ret: guest.ret >= -2
  (or (not (= 10 guest.pc@s)) (<= (- 2) guest.ret@s))
  ; guest at ret: guest.ret <= 0
  (or (not (= 10 guest.pc@s)) (>= 0 guest.ret@s))
  ; guest at ret: guest.did >= 0
  (or (not (= 10 guest.pc@s)) (<= 0 guest.did@s))
  ; guest at ret: guest.did <= 1
  (or (not (= 10 guest.pc@s)) (>= 1 guest.did@s))
  ; guest at ret: guest.init >= 0
  (or (not (= 10 guest.pc@s)) (<= 0 guest.init@s))
  ; guest at ret: guest.init <= 1
  (or (not (= 10 guest.pc@s)) (>= 1 guest.init@s))
  ; guest at ret: guest.epoch >= 0
  (or (not (= 10 guest.pc@s)) (<= 0 guest.epoch@s))
  ; guest at wmb: v.guest.confidential == 0
  (or (not (= 11 guest.pc@s)) (= 0 v.guest.confidential@s))
  ; guest at wmb: v.guest.integrity == 0
  (or (not (= 11 guest.pc@s)) (= 0 v.guest.integrity@s))
  ; guest at wmb: v.guest.gpa-checked == 0
  (or (not (= 11 guest.pc@s)) (= 0 v.guest.gpa-checked@s))
  ; guest at wmb: guest.cmd >= 0
  (or (not (= 11 guest.pc@s)) (<= 0 guest.cmd@s))
  ; guest at wmb: guest.gpa in [0, 1, 2, 3]
  (or (not (= 11 guest.pc@s)) (= 0 guest.gpa@s) (= 1 guest.gpa@s) (= 2 guest.gpa@s) (= 3 guest.gpa@s))
  ; guest at wmb: guest.gpa >= 0
  (or (not (= 11 guest.pc@s)) (<= 0 guest.gpa@s))
  ; guest at wmb: guest.gpa <= 3
  (or (not (= 11 guest.pc@s)) (>= 3 guest.gpa@s))
  ; guest at wmb: guest.io >= 0
  (or (not (= 11 guest.pc@s)) (<= 0 guest.io@s))
  ; guest at wmb: guest.ret in [-2, -1, 0]
  (or (not (= 11 guest.pc@s)) (= (- 2) guest.ret@s) (= (- 1) guest.ret@s) (= 0 guest.ret@s))
  ; guest at wmb: guest.ret >= -2
  (or (not (= 11 guest.pc@s)) (<= (- 2) guest.ret@s))
  ; guest at wmb: guest.ret <= 0
  (or (not (= 11 guest.pc@s)) (>= 0 guest.ret@s))
  ; guest at wmb: guest.did >= 0
  (or (not (= 11 guest.pc@s)) (<= 0 guest.did@s))
  ; guest at wmb: guest.did <= 1
  (or (not (= 11 guest.pc@s)) (>= 1 guest.did@s))
  ; guest at wmb: guest.init >= 0
  (or (not (= 11 guest.pc@s)) (<= 0 guest.init@s))
  ; guest at wmb: guest.init <= 1
  (or (not (= 11 guest.pc@s)) (>= 1 guest.init@s))
  ; guest at wmb: guest.epoch >= 0
  (or (not (= 11 guest.pc@s)) (<= 0 guest.epoch@s))
  ; guest at done: v.guest.confidential == 0
  (or (not (= 12 guest.pc@s)) (= 0 v.guest.confidential@s))
  ; guest at done: v.guest.integrity == 0
  (or (not (= 12 guest.pc@s)) (= 0 v.guest.integrity@s))
  ; guest at done: v.guest.gpa-checked == 0
  (or (not (= 12 guest.pc@s)) (= 0 v.guest.gpa-checked@s))
  ; guest at done: guest.cmd >= 0
  (or (not (= 12 guest.pc@s)) (<= 0 guest.cmd@s))
  ; guest at done: guest.gpa in [0, 1, 2, 3]
  (or (not (= 12 guest.pc@s)) (= 0 guest.gpa@s) (= 1 guest.gpa@s) (= 2 guest.gpa@s) (= 3 guest.gpa@s))
  ; guest at done: guest.gpa >= 0
  (or (not (= 12 guest.pc@s)) (<= 0 guest.gpa@s))
  ; guest at done: guest.gpa <= 3
  (or (not (= 12 guest.pc@s)) (>= 3 guest.gpa@s))
  ; guest at done: guest.io >= 0
  (or (not (= 12 guest.pc@s)) (<= 0 guest.io@s))
  ; guest at done: guest.ret in [-2, -1, 0]
  (or (not (= 12 guest.pc@s)) (= (- 2) guest.ret@s) (= (- 1) guest.ret@s) (= 0 guest.ret@s))
  ; guest at done: guest.ret >= -2
  (or (not (= 12 guest.pc@s)) (<= (- 2) guest.ret@s))
  ; guest at done: guest.ret <= 0
  (or (not (= 12 guest.pc@s)) (>= 0 guest.ret@s))
  ; guest at done: guest.did >= 0
  (or (not (= 12 guest.pc@s)) (<= 0 guest.did@s))
  ; guest at done: guest.did <= 1
  (or (not (= 12 guest.pc@s)) (>= 1 guest.did@s))
  ; guest at done: guest.init >= 0
  (or (not (= 12 guest.pc@s)) (<= 0 guest.init@s))
  ; guest at done: guest.init <= 1
  (or (not (= 12 guest.pc@s)) (>= 1 guest.init@s))
  ; guest at done: guest.epoch >= 0
  (or (not (= 12 guest.pc@s)) (<= 0 guest.epoch@s))
  true))
(declare-fun |guest.pc@0| () Int)
(declare-fun |guest.go@0| () Int)
(declare-fun |guest.cmd@0| () Int)
(declare-fun |guest.gpa@0| () Int)
(declare-fun |guest.io@0| () Int)
(declare-fun |guest.ret@0| () Int)
(declare-fun |guest.did@0| () Int)
(declare-fun |guest.init@0| () Int)
(declare-fun |guest.last@0| () Int)
(declare-fun |guest.epoch@0| () Int)
(declare-fun |v.guest.confidential@0| () Int)
(declare-fun |v.guest.refusal-reported@0| () Int)
(declare-fun |v.guest.integrity@0| () Int)
(declare-fun |v.guest.gpa-checked@0| () Int)
(declare-fun |guest.pc@1| () Int)
(declare-fun |guest.go@1| () Int)
(declare-fun |guest.cmd@1| () Int)
(declare-fun |guest.gpa@1| () Int)
(declare-fun |guest.io@1| () Int)
(declare-fun |guest.ret@1| () Int)
(declare-fun |guest.did@1| () Int)
(declare-fun |guest.init@1| () Int)
(declare-fun |guest.last@1| () Int)
(declare-fun |guest.epoch@1| () Int)
(declare-fun |v.guest.confidential@1| () Int)
(declare-fun |v.guest.refusal-reported@1| () Int)
(declare-fun |v.guest.integrity@1| () Int)
(declare-fun |v.guest.gpa-checked@1| () Int)
(declare-fun |sel0@1| () Bool)
(declare-fun |sel1@1| () Bool)
(declare-fun |sel2@1| () Bool)
(declare-fun |sel3@1| () Bool)
(declare-fun |sel4@1| () Bool)
(declare-fun |sel5@1| () Bool)
(declare-fun |sel6@1| () Bool)
(declare-fun |sel7@1| () Bool)
(declare-fun |sel8@1| () Bool)
(declare-fun |sel9@1| () Bool)
(declare-fun |sel10@1| () Bool)
(declare-fun |sel11@1| () Bool)
(declare-fun |sel12@1| () Bool)
(declare-fun |p.any_cmd@1| () Int)
(declare-fun |p.any_go@1| () Int)
(declare-fun |p.any_gpa@1| () Int)
(declare-fun |p.any_io@1| () Int)
(assert (Inv |guest.pc@0| |guest.go@0| |guest.cmd@0| |guest.gpa@0| |guest.io@0| |guest.ret@0| |guest.did@0| |guest.init@0| |guest.last@0| |guest.epoch@0| |v.guest.confidential@0| |v.guest.refusal-reported@0| |v.guest.integrity@0| |v.guest.gpa-checked@0|))
(assert (Trans |guest.pc@0| |guest.go@0| |guest.cmd@0| |guest.gpa@0| |guest.io@0| |guest.ret@0| |guest.did@0| |guest.init@0| |guest.last@0| |guest.epoch@0| |v.guest.confidential@0| |v.guest.refusal-reported@0| |v.guest.integrity@0| |v.guest.gpa-checked@0| |guest.pc@1| |guest.go@1| |guest.cmd@1| |guest.gpa@1| |guest.io@1| |guest.ret@1| |guest.did@1| |guest.init@1| |guest.last@1| |guest.epoch@1| |v.guest.confidential@1| |v.guest.refusal-reported@1| |v.guest.integrity@1| |v.guest.gpa-checked@1| |sel0@1| |sel1@1| |sel2@1| |sel3@1| |sel4@1| |sel5@1| |sel6@1| |sel7@1| |sel8@1| |sel9@1| |sel10@1| |sel11@1| |sel12@1| |p.any_cmd@1| |p.any_go@1| |p.any_gpa@1| |p.any_io@1|))
(assert (not (Part |guest.pc@1| |guest.go@1| |guest.cmd@1| |guest.gpa@1| |guest.io@1| |guest.ret@1| |guest.did@1| |guest.init@1| |guest.last@1| |guest.epoch@1| |v.guest.confidential@1| |v.guest.refusal-reported@1| |v.guest.integrity@1| |v.guest.gpa-checked@1|)))
(check-sat)
