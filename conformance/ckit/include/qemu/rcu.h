/* Stand-in for QEMU's qemu/rcu.h: one thread, so the read-side guards do nothing. */
#ifndef MHKIT_QEMU_RCU_H
#define MHKIT_QEMU_RCU_H
#define rcu_read_lock() do { } while (0)
#define rcu_read_unlock() do { } while (0)
#define RCU_READ_LOCK_GUARD() do { } while (0)
#define WITH_RCU_READ_LOCK_GUARD() for (int mhkit_rcu_once_ = 1; mhkit_rcu_once_; mhkit_rcu_once_ = 0)
#endif
