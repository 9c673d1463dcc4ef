/*
 * dsp_init.c - installs the x86 kernels the CPU (and the mask) allow, in
 * order SSE4.1, AVX2, then AVX-512 (F, BW, DQ, VL), stopping at the first
 * level missing.
 */
#include "dsp.h"
#include "dsp_x86.h"

void fm_dsp_init_x86(FmDsp *dsp, unsigned cpu_mask)
{
    if (!(cpu_mask & FM_CPU_SSE41))
        return;
    fm_dsp_init_sse41(dsp);
    if (!(cpu_mask & FM_CPU_AVX2))
        return;
    fm_dsp_init_avx2(dsp);
    if (!(cpu_mask & FM_CPU_AVX512))
        return;
    fm_dsp_init_avx512(dsp);
}
