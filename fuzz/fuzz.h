/* fuzz.h: what every fuzz target shares. A target is one
 * LLVMFuzzerTestOneInput; libFuzzer drives it (fuzz/run.sh), and
 * fuzz/replay.c replays the seed corpus in `make check`. */
#ifndef PDS_FUZZ_H
#define PDS_FUZZ_H

#include <stddef.h>
#include <stdint.h>

#include <apr_pools.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
/* Optional, once before the first input (weak: not every target has it). */
int LLVMFuzzerInitialize(int *argc, char ***argv) __attribute__((weak));

/* A pool for one input, created on first use and cleared per input. */
apr_pool_t *pds_fuzz_pool(void);

#endif
