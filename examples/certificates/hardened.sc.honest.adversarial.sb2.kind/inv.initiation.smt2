; mhmailbox proof certificate: hardened/sc/honest/adversarial/sb=2, the invariant inv
; obligation: initiation (the initial states satisfy the invariant)
; expected: unsat
(set-logic QF_LIA)
(define-fun Init ((guest.pc@s Int) (guest.go@s Int) (guest.cmd@s Int) (guest.gpa@s Int) (guest.io@s Int) (guest.ret@s Int) (guest.did@s Int) (guest.init@s Int) (guest.last@s Int) (guest.epoch@s Int) (v.guest.confidential@s Int) (v.guest.refusal-reported@s Int) (v.guest.integrity@s Int) (v.guest.gpa-checked@s Int)) Bool
  (and true (= 1 guest.pc@s) (= 0 guest.go@s) (= 0 guest.cmd@s) (= 0 guest.gpa@s) (= 0 guest.io@s) (= 0 guest.ret@s) (= 0 guest.did@s) (= 0 guest.init@s) (= 0 guest.last@s) (= 0 guest.epoch@s) (= 0 v.guest.confidential@s) (= 0 v.guest.refusal-reported@s) (= 0 v.guest.integrity@s) (= 0 v.guest.gpa-checked@s)))
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
(assert (Init |guest.pc@0| |guest.go@0| |guest.cmd@0| |guest.gpa@0| |guest.io@0| |guest.ret@0| |guest.did@0| |guest.init@0| |guest.last@0| |guest.epoch@0| |v.guest.confidential@0| |v.guest.refusal-reported@0| |v.guest.integrity@0| |v.guest.gpa-checked@0|))
(assert (not (Inv |guest.pc@0| |guest.go@0| |guest.cmd@0| |guest.gpa@0| |guest.io@0| |guest.ret@0| |guest.did@0| |guest.init@0| |guest.last@0| |guest.epoch@0| |v.guest.confidential@0| |v.guest.refusal-reported@0| |v.guest.integrity@0| |v.guest.gpa-checked@0|)))
(check-sat)
