#pragma once
// Internal to api/: each dialect file registers its own routes. Handlers
// borrow `core`, which must outlive the router.

#include "core/core.h"
#include "http/router.h"

namespace agentd::api {

void register_nugen_v3(http::Router& router, core::Core& core);    // nugen_v3.cpp   /api/v3/agents...
void register_runagent_v1(http::Router& router, core::Core& core); // runagent_v1.cpp /v1/agents, /v1/agents/{id}...
void register_roe_v1(http::Router& router, core::Core& core);      // roe_v1.cpp     /v1/agents/.../
void register_admin(http::Router& router, core::Core& core);       // admin.cpp      /admin/...
void register_nugen_runs(http::Router& router, core::Core& core);     // runs_nugen.cpp    runs, usage, sessions
void register_runagent_runs(http::Router& router, core::Core& core);  // runs_runagent.cpp invoke, stream
void register_roe_runs(http::Router& router, core::Core& core);       // runs_roe.cpp      /v1/agents/run/{id}/...
void register_openai_v1(http::Router& router, core::Core& core);      // openai_v1.cpp     /v1/chat/completions, /v1/completions, /v1/embeddings, /v1/models, /metrics
void register_nugen_inference(http::Router& router, core::Core& core); // openai_v1.cpp     /api/v3/inference/...

}  // namespace agentd::api
