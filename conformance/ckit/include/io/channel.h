/* Stand-in for QEMU's io/channel.h (not used by a mailbox host). */
#ifndef MHKIT_IO_CHANNEL_H
#define MHKIT_IO_CHANNEL_H
typedef struct QIOChannel QIOChannel;
#endif
