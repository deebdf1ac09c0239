/* Stand-in for QEMU's qemu/coroutine.h (nothing of it is used by a mailbox host). */
#ifndef MHKIT_QEMU_COROUTINE_H
#define MHKIT_QEMU_COROUTINE_H
#define coroutine_fn
#endif
