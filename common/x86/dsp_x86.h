/*
 * dsp_x86.h - the x86 levels of the DSP table (dsp.h).
 */
#ifndef FM_DSP_X86_H
#define FM_DSP_X86_H

#include "dsp.h"

void fm_dsp_init_sse41(FmDsp *dsp);
void fm_dsp_init_avx2(FmDsp *dsp);

#endif
