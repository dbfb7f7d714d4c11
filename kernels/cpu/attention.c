/* attention.c — dispatch of causal attention to the AVX2 row kernel when the
 * CPU has it, and the pooled variant that spreads (query, head) rows over
 * the kernel threads, each with its own score row. */
#include "cpu_internal.h"

typedef void (*attn_row_fn)(const mg__attn_args *a, int i, int h, float *scratch);

/* The model store validates head counts; a violation here is a bug. */
static void check_heads(int n_heads, int n_kv_heads)
{
    MG_ASSERT(n_kv_heads > 0 && n_heads % n_kv_heads == 0);
}

static attn_row_fn pick_row(void)
{
#if defined(__x86_64__)
    if (mg__use_avx2()) return mg__attention_row_avx2;
#endif
    return mg__attention_row_scalar;
}

void mg_k_attention(float *out, const float *q, const float *k, const float *v, int n_q, int n_kv,
                    int q_pos0, int n_heads, int n_kv_heads, int head_dim, float scale, int window,
                    float *scratch)
{
    mg__attn_args a = {out,    q,       k,          v,        n_q,   n_kv,
                       q_pos0, n_heads, n_kv_heads, head_dim, scale, window};
    check_heads(n_heads, n_kv_heads);
    attn_row_fn row = pick_row();
    for (int i = 0; i < n_q; i++)
        for (int h = 0; h < n_heads; h++) row(&a, i, h, scratch);
}

typedef struct attn_job {
    mg__attn_args a;
    attn_row_fn row;
    float *scratch;
    int items;
} attn_job;

/* Item `it` takes rows it, it + items, ... so causal rows (later queries
 * see more keys) spread evenly, and owns scratch row `it`: at most
 * mg_kpool_size(pool) items, so the caller's scratch suffices. */
static void attn_item(int it, void *vp)
{
    const attn_job *job = vp;
    int total = job->a.n_q * job->a.n_heads;
    float *scr = job->scratch + (size_t)it * job->a.n_kv;
    for (int r = it; r < total; r += job->items)
        job->row(&job->a, r / job->a.n_heads, r % job->a.n_heads, scr);
}

void mg_k_attention_pool(mg_kpool *pool, float *out, const float *q, const float *k, const float *v,
                         int n_q, int n_kv, int q_pos0, int n_heads, int n_kv_heads, int head_dim,
                         float scale, int window, float *scratch)
{
    attn_job job = {
        .a = {out, q, k, v, n_q, n_kv, q_pos0, n_heads, n_kv_heads, head_dim, scale, window},
        .row = pick_row(),
        .scratch = scratch};
    check_heads(n_heads, n_kv_heads);
    int total = n_q * n_heads;
    if (total <= 0) return;
    int items = mg_kpool_size(pool);
    job.items = items < total ? items : total;
    mg_kpool_run(pool, job.items, attn_item, &job);
}
