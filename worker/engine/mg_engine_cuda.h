/* mg_engine_cuda.h — the engine's CUDA backend (library mg_engine_cuda,
 * linked only into `moegen-cuda` and the GPU tests).
 *
 *     int main(...) { mg_engine_cuda_register(); ... }
 *     mg_engine_params ep = mg_engine_default_params();
 *     ep.device = MG_DEVICE_CUDA;  ep.device_index = 0;
 *     mg_engine_new(model, &ep, &e, &err);
 *
 * The backend runs the same forward pass as the CPU one (worker/engine/
 * cpu_forward.c) with weights uploaded once in their stored dtype and the KV
 * caches in device memory; logits and hidden states come back to the host,
 * where routing and sampling stay (docs/ENGINE.md, "Backends"). */
#ifndef MG_ENGINE_CUDA_H
#define MG_ENGINE_CUDA_H

/* Makes MG_DEVICE_CUDA available to mg_engine_new in this process. Call once
 * at start, before any engine exists; not thread-safe against engines. */
void mg_engine_cuda_register(void);

#endif /* MG_ENGINE_CUDA_H */
