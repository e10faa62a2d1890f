#pragma once

// The bridge between the result sinks the core speaks and the Response values of the
// public Router interface: ResponseSink fills Responses from a call's results, and
// replay() hands Responses (from a router that produces them) to a sink.

#include <meta_memcache/detail/key_encoding.hpp>
#include <meta_memcache/detail/result_sink.hpp>
#include <meta_memcache/request.hpp>
#include <meta_memcache/responses.hpp>

#include <span>
#include <string>
#include <utility>

namespace meta_memcache::detail {

/// The flags of an answer as a ResponseFlags, with the k flag decoded from base64.
[[nodiscard]] inline ResponseFlags response_flags(const ResponseHeader& h) {
    ResponseFlags f = h.flags;
    if (!h.key.empty()) {
        std::string k;
        if (h.key_base64 && base64_decode(h.key, k)) {
            f.key = std::move(k);
        } else {
            f.key = std::string(h.key);
        }
    }
    return f;
}

/// The Response that stands for a failed request: Miss (mg) or NotStored, with the error.
[[nodiscard]] inline Response failed_response(MetaCommand cmd, const Failure& f) {
    std::exception_ptr e = make_error(f.code, std::string(f.message), std::string(f.server));
    if (cmd == MetaCommand::get)
        return Miss{std::move(e), f.code};
    return NotStored{std::move(e), f.code};
}

/// Fills `out[i]` with the answer to `requests[i]`.
class ResponseSink final : public ResultSink {
public:
    ResponseSink(std::span<const Request> requests, std::span<Response> out) noexcept
        : requests_(requests), out_(out) {}

    void answer(std::size_t i, const ResponseHeader& h, std::string_view value) override {
        Response& r = out_[i];
        switch (h.code) {
            case ResponseCode::value:
                // Braces, not emplace's parentheses: clang 14 lacks C++20 paren-init.
                r.emplace<Value>(Value{response_flags(h), std::string(value)});
                break;
            case ResponseCode::header:
                r.emplace<Success>(Success{response_flags(h)});
                break;
            case ResponseCode::not_stored:
                r = NotStored{};
                break;
            case ResponseCode::exists:
                r = Conflict{};
                break;
            case ResponseCode::noop:
                r = Success{};
                break;
            default:  // EN, NF
                r = Miss{};
                break;
        }
    }
    std::string& large_value(std::size_t i, const ResponseHeader& h) override {
        return out_[i].emplace<Value>(Value{response_flags(h), {}}).data;
    }
    void fail(std::size_t i, const Failure& f) override {
        out_[i] = failed_response(requests_[i].command, f);
    }

private:
    std::span<const Request> requests_;
    std::span<Response> out_;
};

/// The error code a failed Response carries (its `code`, or read from the exception when a
/// router of the caller's own left it unset).
[[nodiscard]] inline errc failure_code(const std::exception_ptr& e, errc code) noexcept {
    if (code != errc{} || !e)
        return code;
    try {
        std::rethrow_exception(e);
    } catch (const Error& err) {
        return err.error();
    } catch (...) {
        return errc::connection_closed;
    }
}

/// Hands `responses` (answers to `requests`) to `sink`, as the codec would have.
inline void replay(std::span<const Request> requests,
                   std::span<Response> responses,
                   ResultSink& sink) {
    for (std::size_t i = 0; i < responses.size(); ++i) {
        const MetaCommand cmd = requests[i].command;
        ResponseHeader h;
        const auto failed = [&](const std::exception_ptr& e, errc code) {
            std::string message = "request failed";
            std::string server;
            try {
                std::rethrow_exception(e);
            } catch (const Error& err) {
                message = err.message();
                server = err.server();
            } catch (const std::exception& other) {
                message = other.what();
            } catch (...) {
            }
            sink.fail(i, Failure{failure_code(e, code), message, server});
        };
        if (auto* v = std::get_if<Value>(&responses[i])) {
            h.code = ResponseCode::value;
            h.flags = v->flags;
            h.value_size = v->data.size();
            sink.answer(i, h, v->data);
        } else if (auto* s = std::get_if<Success>(&responses[i])) {
            h.code = ResponseCode::header;
            h.flags = s->flags;
            sink.answer(i, h, {});
        } else if (auto* m = std::get_if<Miss>(&responses[i])) {
            if (m->is_error()) {
                failed(m->error, m->code);
                continue;
            }
            h.code = cmd == MetaCommand::get ? ResponseCode::miss : ResponseCode::not_found;
            sink.answer(i, h, {});
        } else if (auto* n = std::get_if<NotStored>(&responses[i])) {
            if (n->is_error()) {
                failed(n->error, n->code);
                continue;
            }
            h.code = ResponseCode::not_stored;
            sink.answer(i, h, {});
        } else {
            h.code = ResponseCode::exists;
            sink.answer(i, h, {});
        }
    }
}

}  // namespace meta_memcache::detail
