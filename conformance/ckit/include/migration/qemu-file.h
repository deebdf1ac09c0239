/* Stand-in for QEMU's migration/qemu-file.h (the same as "qemu-file.h"). */
#include "../qemu-file.h"
