/* act_mul.cu — the gated MLP's elementwise step, y = act(gate) * up, for SiLU
 * (x / (1 + exp(-x))) and tanh-approximated GELU (ATen's formula, see
 * kernels/cpu/ops_ref.c). _rn intrinsics keep nvcc from contracting the
 * products into FMAs, so rounding follows the CPU reference step by step. */
#include "cuda_internal.cuh"

__global__ void silu_mul_k(float *y, const float *gate, const float *up, size_t n)
{
    for (size_t i = blockIdx.x * (size_t)blockDim.x + threadIdx.x; i < n;
         i += (size_t)gridDim.x * blockDim.x) {
        float g = gate[i];
        y[i] = __fmul_rn(__fdiv_rn(g, __fadd_rn(1.0f, expf(-g))), up[i]);
    }
}

__global__ void gelu_tanh_mul_k(float *y, const float *gate, const float *up, size_t n)
{
    const float kBeta = (float)(1.4142135623730951 * 1.1283791670955126 * 0.5);
    const float kKappa = 0.044715f;
    for (size_t i = blockIdx.x * (size_t)blockDim.x + threadIdx.x; i < n;
         i += (size_t)gridDim.x * blockDim.x) {
        float x = gate[i];
        float cube = __fmul_rn(__fmul_rn(x, x), x);
        float inner = __fmul_rn(kBeta, __fadd_rn(x, __fmul_rn(kKappa, cube)));
        float g = __fmul_rn(__fmul_rn(0.5f, x), __fadd_rn(1.0f, tanhf(inner)));
        y[i] = __fmul_rn(g, up[i]);
    }
}

static unsigned blocks_for(size_t n)
{
    size_t b = (n + 255) / 256;
    return (unsigned)(b > 65535 ? 65535 : b);
}

int mg_cuda_silu_mul(mg_cuda_ctx *c, float *y, const float *gate, const float *up, size_t n,
                     mg_error *err)
{
    if (n == 0) return 0;
    if (mg__cuda_use(c, err) < 0) return MG_ECUDA;
    silu_mul_k<<<blocks_for(n), 256, 0, c->stream>>>(y, gate, up, n);
    MG_CUDA_LAUNCHED(err);
    return 0;
}

int mg_cuda_gelu_tanh_mul(mg_cuda_ctx *c, float *y, const float *gate, const float *up, size_t n,
                          mg_error *err)
{
    if (n == 0) return 0;
    if (mg__cuda_use(c, err) < 0) return MG_ECUDA;
    gelu_tanh_mul_k<<<blocks_for(n), 256, 0, c->stream>>>(y, gate, up, n);
    MG_CUDA_LAUNCHED(err);
    return 0;
}
