#pragma once

// The one-key path: a plain get or set as one send() and one blocking recv(), from the
// client straight to the socket, with no batch around it. Its bytes are the batch codec's:
// the request line is written with the encoder's pieces (put_key, the flag text of
// put_line_rest), the answer read with the parser's hit-or-miss path (parse_hit_or_miss,
// frame_value). Anything else (an answer that is not a plain EN, HD or VA, a partial
// read, a timeout, a dead connection, a failed connect) is handed to the general driver
// in the state it is in, which finishes the request as it finishes any other.

#include <meta_memcache/config.hpp>
#include <meta_memcache/connection_pool.hpp>
#include <meta_memcache/detail/batch_codec.hpp>
#include <meta_memcache/detail/request_encoder.hpp>
#include <meta_memcache/detail/response_parser.hpp>
#include <meta_memcache/detail/result_sink.hpp>
#include <meta_memcache/impl/pool/pool.hpp>
#include <meta_memcache/request.hpp>

#include <algorithm>
#include <cstdint>
#include <string_view>

namespace meta_memcache::detail {

/// What the one-key path did with a request.
enum class OneKey : std::uint8_t {
    done,      ///< the request's result is in the sink (an answer or a failure)
    declined,  ///< nothing was sent: run the request on the general path
};

namespace one_key_impl {

using Lease = ConnectionPool::Impl::Lease;

/// Finishes a one-key request on the general driver (see Call::take_over): `request`
/// stands for what the one-key path was sending; `err` when the pool gave no
/// connection, else `encoded` when the request is in the connection's write buffer with
/// `sent` bytes of it written, and `last` the outcome of the read made, if any.
void take_over(ConnectionPool::Impl& pool,
               Lease&& lease,
               const AcquireError* err,
               const Request& request,
               bool encoded,
               std::size_t sent,
               const IoResult* last,
               ResultSink& sink,
               const ExecContext& ctx);

/// The one-key exchange: `encode(p)` writes the request at `p` (room for `room` bytes) and
/// returns its end; `request()` makes the Request it stands for and `ctx()` the call's
/// ExecContext, should the general driver have to finish it.
template <class Sink, class Encode, class MakeRequest, class MakeContext>
[[gnu::always_inline]] inline OneKey exchange(ConnectionPool& pool_,
                                              MetaCommand cmd,
                                              std::size_t room,
                                              Sink& sink,
                                              std::size_t max_item_size,
                                              MakeContext&& ctx,
                                              Encode&& encode,
                                              MakeRequest&& request) {
    ConnectionPool::Impl& pool = pool_.impl();
    Lease lease = pool.take_parked();
    if (lease.conn == nullptr) [[unlikely]] {
        AcquireError err;
        lease = pool.acquire(pool.options.recv_timeout, false, err);
        if (lease.conn == nullptr) {
            take_over(pool, std::move(lease), &err, request(), false, 0, nullptr, sink, ctx());
            return OneKey::done;
        }
    }
    Connection* c = lease.conn;
    if (c->is_tls() || c->pending_fences != 0 || c->rend != 0) {
        // Not a plain connection: the general driver encodes and sends it.
        take_over(pool, std::move(lease), nullptr, request(), false, 0, nullptr, sink, ctx());
        return OneKey::done;
    }
    c->wbuf.clear();
    char* const line = c->wbuf.room(room);
    const auto total = static_cast<std::size_t>(encode(line) - line);
    c->wbuf.commit(total);
    const IoResult w = c->write_plain(line, total);
    if (w.status != IoStatus::ok || w.bytes != total) {
        const std::size_t sent = w.status == IoStatus::ok ? w.bytes : 0;
        take_over(pool, std::move(lease), nullptr, request(), true, sent, nullptr, sink, ctx());
        return OneKey::done;
    }
    const IoResult r = c->read_wait_plain(c->rbuf.data(), c->rbuf.size());
    if (r.status == IoStatus::ok) {
        const std::string_view in(c->rbuf.data(), r.bytes);
        ResponseCode code{};
        std::uint64_t size = 0;
        std::uint32_t flag = 0;
        std::size_t len = 0;
        if (parser_impl::parse_hit_or_miss(in, pool.limits, code, size, flag, len) &&
            codec_impl::answers(cmd, code)) {
            if (code != ResponseCode::value) {
                if (len == r.bytes) {
                    const MetaCommand as =
                        code == ResponseCode::miss ? MetaCommand::get : MetaCommand::set;
                    sink.answer(0, codec_impl::nominal(as), {});  // (EN or HD, as nominal says)
                    lease.done(ConnectionPool::Impl::Outcome::ok);
                    return OneKey::done;
                }
            } else if (size <= max_item_size && len + size + 2 == r.bytes &&
                       frame_value(in, len, size) == FrameResult::complete) {
                const std::string_view value(in.data() + len, static_cast<std::size_t>(size));
                if constexpr (requires { sink.hit(value, flag); }) {
                    sink.hit(value, flag);  // (the answer() of a header with only f)
                } else {
                    ResponseHeader& h = c->hit_header;
                    h.value_size = size;
                    h.flags.client_flag = flag;
                    sink.answer(0, h, value);
                }
                lease.done(ConnectionPool::Impl::Outcome::ok);
                return OneKey::done;
            }
        }
    }
    // Anything else, including a partial answer, is the general decoder's to judge.
    take_over(pool, std::move(lease), nullptr, request(), true, total, &r, sink, ctx());
    return OneKey::done;
}

}  // namespace one_key_impl

/// A plain read of `key` (mg <prefix><key> f v) on `pool`, its result into `sink` as the
/// general driver gives it; `ctx()` makes the call's ExecContext, which must have no
/// observer (the caller declines such calls), only if the general driver needs it.
/// Declines (nothing sent) for an empty key, which validate() names; a TLS connection or
/// one with answers of earlier quiet writes still due is handed to the general driver
/// before anything is sent.
template <class Sink, class MakeContext>
[[gnu::always_inline]] inline OneKey read_one(ConnectionPool& pool,
                                              const KeyView& key,
                                              Sink& sink,
                                              std::string_view key_prefix,
                                              std::size_t max_item_size,
                                              MakeContext&& ctx) {
    if (key.key.empty())
        return OneKey::declined;  // validate() names the problem
    const LineTail& tail = plain_read_tail;
    return one_key_impl::exchange(
        pool, MetaCommand::get, max_request_line, sink, max_item_size, ctx,
        [&](char* p)
            __attribute__((always_inline)) { return put_plain_read(p, key_prefix, key.key, tail); },
        [&] {
            return Request{MetaCommand::get, key, {}, plain_read_flags()};
        });
}

/// A plain set (ms <prefix><key> <size> T<ttl> F<client_flag>, a value of at most
/// copy_value_threshold bytes that fits the item size) on `pool`, its result into `sink`;
/// a failure is reported to ctx.on_write_failure as the general driver reports it.
/// Declines as read_one does, and for anything validate() would look at more closely (a
/// TTL out of range, a value near the item size).
template <class Sink, class MakeContext>
[[gnu::always_inline]] inline OneKey set_one(ConnectionPool& pool,
                                             const KeyView& key,
                                             std::string_view value,
                                             std::uint32_t client_flag,
                                             std::int64_t ttl,
                                             Sink& sink,
                                             std::string_view key_prefix,
                                             std::size_t max_item_size,
                                             MakeContext&& ctx) {
    // What validate() would judge more closely goes there: a TTL out of range, a value that
    // may not fit beside its key (the longest wire form of the key is counted here).
    const std::size_t key_size = key_prefix.size() + key.key.size();
    const std::size_t longest_key = key_size >= hashed_key_threshold ? 24 : (key_size + 2) / 3 * 4;
    if (key.key.empty() || ttl < 0 || ttl > max_ttl || value.size() > copy_value_threshold ||
        value.size() + std::max(key_size, longest_key) + item_overhead >= max_item_size)
        return OneKey::declined;
    return one_key_impl::exchange(
        pool, MetaCommand::set, max_request_line + value.size() + 2, sink, max_item_size, ctx,
        [&](char* p) __attribute__((always_inline)) {
            return put_plain_set(p, key_prefix, key.key, value, client_flag, ttl);
        },
        [&] {
            RequestFlags f;
            f.cache_ttl = ttl;
            f.client_flag = client_flag;
            return Request{MetaCommand::set, key, value, f};
        });
}

}  // namespace meta_memcache::detail
