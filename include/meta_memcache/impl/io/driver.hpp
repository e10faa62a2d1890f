#pragma once

// The synchronous driver: moves a call's bytes between the batch codec and the sockets of
// the pools the requests go to. It frames nothing itself (that is the codec's), and it
// decides only when to write, read and wait:
//
//   one server     write the batch, then one blocking receive bounded by the request's
//                  deadline (SO_RCVTIMEO): a prompt small get is two system calls;
//   many servers   write every server's batch before reading any, then wait for all in
//                  one poll(), reading a socket only when poll() says it has bytes;
//   big batches    when a socket's buffer fills, the write waits in poll() with the read
//                  side open, so a server blocked on sending answers is always drained.
//
// Every request is validated before any byte is sent. A failed server fails only its own
// requests (ResultSink::fail); tracked writes among them are reported to
// ctx.on_write_failure. A batch on a reused connection that the server had closed before
// answering is sent once more on a fresh one when that is safe.

#include <meta_memcache/config.hpp>
#include <meta_memcache/connection_pool.hpp>
#include <meta_memcache/detail/batch_codec.hpp>
#include <meta_memcache/detail/result_sink.hpp>
#include <meta_memcache/request.hpp>

#include <cstdint>
#include <memory>
#include <span>

namespace meta_memcache::detail {

/// Sends `requests[i]` to `pools[i]` (all servers at once) and hands each result to `sink`.
/// @throws InvalidInputError before anything is sent; server failures go to the sink.
void run_on_pools(std::span<const Request> requests,
                  std::span<ConnectionPool* const> pools,
                  ResultSink& sink,
                  const ExecContext& ctx);

/// The same with each request's pool given by number: request `i` goes to
/// `node_pools[nodes[i]]` (a ring's nodes, as HashRing::nodes_for numbers them).
void run_on_nodes(const CallRequests& requests,
                  const std::uint32_t* nodes,
                  std::span<const std::shared_ptr<ConnectionPool>> node_pools,
                  ResultSink& sink,
                  const ExecContext& ctx);

/// The same for requests that all go to one pool.
void run_on_pool(ConnectionPool& pool,
                 const CallRequests& requests,
                 ResultSink& sink,
                 const ExecContext& ctx);

}  // namespace meta_memcache::detail
