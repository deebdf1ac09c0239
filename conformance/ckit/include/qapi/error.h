/* Stand-in for QEMU's qapi/error.h. */
#ifndef MHKIT_QAPI_ERROR_H
#define MHKIT_QAPI_ERROR_H
typedef struct Error Error;
#endif
