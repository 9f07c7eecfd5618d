/* Host stand-in for gk/heap.h (see gk.h here): the host's malloc. */
#ifndef FAKE_GK_HEAP_H
#define FAKE_GK_HEAP_H

#include <stdlib.h>

#endif
