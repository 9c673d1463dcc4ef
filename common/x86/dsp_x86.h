/*
 * dsp_x86.h - the x86 levels of the DSP table (dsp.h).
 */
#ifndef FM_DSP_X86_H
#define FM_DSP_X86_H

#include "dsp.h"

void fm_dsp_init_sse41(FmDsp *dsp);
void fm_dsp_init_avx2(FmDsp *dsp);
void fm_dsp_init_avx512(FmDsp *dsp);

/* The AVX2 hresample over outputs [x0, x1) of a table of n_out (the AVX-512
 * version hands it the blocks and tables it has no shuffle for). */
void fm_hresample_avx2_span(const float *row, const int *idx, const float *wt, int taps,
                            int n_out, float scale, float *out, int x0, int x1);

#endif
