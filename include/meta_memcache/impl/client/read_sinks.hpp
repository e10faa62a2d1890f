#pragma once

// Where the high-level commands' answers go: straight from the read buffer into what the
// caller gets (a std::optional<std::string>, a stored flag, a counter's text), with no
// Response in between.

#include <meta_memcache/detail/function_ref.hpp>
#include <meta_memcache/detail/result_sink.hpp>
#include <meta_memcache/error.hpp>
#include <meta_memcache/impl/client/domain_counters.hpp>
#include <meta_memcache/impl/client/large_values.hpp>
#include <meta_memcache/key.hpp>
#include <meta_memcache/serializer.hpp>
#include <meta_memcache/value_codec.hpp>

#include <cstdint>
#include <list>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <vector>

namespace meta_memcache::detail {

/// A failure kept past the call (a Failure's views die with it); the first one wins. Its
/// text is kept on the heap, so a sink that never fails costs a flag and a null pointer.
struct StoredFailure {
    bool failed = false;
    errc code{};

    void set(const Failure& f) {
        if (failed)
            return;
        failed = true;
        code = f.code;
        text_ = std::make_unique<Text>(Text{std::string(f.message), std::string(f.server)});
    }
    [[noreturn]] void raise() const { throw_error(code, text_->message, text_->server); }

private:
    struct Text {
        std::string message;
        std::string server;
    };
    std::unique_ptr<Text> text_{};
};

/// Where a value the caller does not get is read (a stale value for a stale win): made
/// the first time one comes.
class WithheldValue {
public:
    std::string& get() {
        if (!s_)
            s_ = std::make_unique<std::string>();
        s_->clear();
        return *s_;
    }

private:
    std::unique_ptr<std::string> s_{};
};

/// True when a VA with these flags gives the caller nothing: this caller won a recache or
/// lease (W), or the value is a lease placeholder (empty, Z).
[[nodiscard]] inline bool withheld(const ResponseHeader& h, std::size_t size) noexcept {
    return h.flags.win == true || (size == 0 && h.flags.win == false);
}

/// The answer to one mg with v: the value's bytes for a hit the caller gets, its client
/// flag and CAS, whether the caller won.
class ReadSink final : public ResultSink {
public:
    explicit ReadSink(std::optional<std::string>& value) noexcept : value_(value) {}

    void answer(std::size_t, const ResponseHeader& h, std::string_view v) override {
        code = h.code;
        if (h.code != ResponseCode::value)
            return;
        note(h);
        if (!withheld(h, v.size()))
            value_.emplace(v);
    }
    /// answer() for a plain hit ("VA <size> f<flag>", nothing else): the one-key path's.
    void hit(std::string_view v, std::uint32_t flag) {
        code = ResponseCode::value;
        client_flag = flag;
        value_.emplace(v);
    }
    std::string& large_value(std::size_t, const ResponseHeader& h) override {
        code = h.code;
        note(h);
        if (won)
            return scratch_.get();  // a stale value for a stale win is withheld
        return value_.emplace();
    }
    void fail(std::size_t, const Failure& f) override {
        failure.set(f);
        value_.reset();
    }

    ResponseCode code = ResponseCode::miss;
    std::uint32_t client_flag = 0;
    std::optional<std::uint64_t> cas{};
    bool won = false;
    StoredFailure failure{};

private:
    void note(const ResponseHeader& h) noexcept {
        client_flag = h.flags.client_flag.value_or(0);
        cas = h.flags.cas_token;
        won = h.flags.win == true;
    }

    std::optional<std::string>& value_;
    WithheldValue scratch_{};
};

/// The answers to many mg with v, one optional per key: plain values straight from the
/// read buffer, compressed ones decompressed from it, chunked indexes kept for joining.
class MultiReadSink final : public ResultSink {
public:
    MultiReadSink(std::vector<std::optional<std::string>>& out, const Serializer& serializer)
        : out_(out), serializer_(serializer) {}

    void answer(std::size_t i, const ResponseHeader& h, std::string_view v) override {
        if (h.code == ResponseCode::header) {
            unexpected_header = true;
            return;
        }
        if (h.code != ResponseCode::value || withheld(h, v.size()))
            return;
        const std::uint32_t flag = h.flags.client_flag.value_or(0);
        if ((flag & (value_flag::compression_mask | chunked_flag)) == 0) {
            out_[i].emplace(v);
        } else if ((flag & chunked_flag) == 0) {
            out_[i] = serializer_.try_decode_bytes(v, flag).value;
            if (!out_[i]) {
                // Undecodable: kept for the caller to count and report (a miss).
                out_[i].emplace(v);
                mark(i, flag);
            }
        } else {
            out_[i].emplace(v);
            mark(i, flag);
        }
    }
    std::string& large_value(std::size_t i, const ResponseHeader& h) override {
        const std::uint32_t flag = h.flags.client_flag.value_or(0);
        if (h.flags.win == true)
            return scratch_.get();
        if ((flag & (value_flag::compression_mask | chunked_flag)) != 0)
            mark(i, flag);  // decoded (or joined) once it is all read
        return out_[i].emplace();
    }
    void fail(std::size_t i, const Failure& f) override {
        failure.set(f);
        out_[i].reset();
        if (!flags.empty())
            flags[i] = 0;
    }

    /// Client flags of the values that still need work (chunked, large and compressed, or
    /// undecodable); empty when none does.
    std::vector<std::uint32_t> flags{};
    bool unexpected_header = false;
    StoredFailure failure{};

private:
    void mark(std::size_t i, std::uint32_t flag) {
        if (flags.empty())
            flags.assign(out_.size(), 0);
        flags[i] = flag;
    }

    std::vector<std::optional<std::string>>& out_;
    const Serializer& serializer_;
    WithheldValue scratch_{};
};

/// The answers to many mg with v, handed to a visitor as they are read (values larger
/// than the read buffer, and chunked ones, once the call is over).
class VisitSink final : public ResultSink {
public:
    using Visitor = FunctionRef<void(std::size_t, std::string_view)>;

    /// Each key's hit or miss is counted in `tally` under its domain.
    VisitSink(Visitor visit,
              std::span<const KeyView> keys,
              DomainTally& tally,
              const Serializer& serializer) noexcept
        : visit_(visit), keys_(keys), tally_(tally), serializer_(serializer) {}

    void answer(std::size_t i, const ResponseHeader& h, std::string_view v) override {
        if (h.code == ResponseCode::header) {
            unexpected_header = true;
            return;
        }
        if (h.code != ResponseCode::value || withheld(h, v.size())) {
            count(i, false);
            return;
        }
        const std::uint32_t flag = h.flags.client_flag.value_or(0);
        if ((flag & (value_flag::compression_mask | chunked_flag)) == 0) {
            hit(i, v);
        } else if ((flag & chunked_flag) == 0) {
            const auto decoded = serializer_.try_decode_bytes(v, flag);
            if (decoded.value) {
                hit(i, *decoded.value);
            } else {
                // Undecodable: counted and reported with the values handled later.
                later.push_back(Later{i, flag, std::string(v), false});
            }
        } else {
            later.push_back(Later{i, flag, std::string(v), false});
        }
    }
    std::string& large_value(std::size_t i, const ResponseHeader& h) override {
        if (h.flags.win == true) {
            count(i, false);
            return scratch_.get();
        }
        later.push_back(Later{i, h.flags.client_flag.value_or(0), {}, false});
        return later.back().data;
    }
    void fail(std::size_t i, const Failure& f) override {
        failure.set(f);
        for (Later& l : later) {
            if (l.index == i && !l.failed) {
                l.failed = true;  // counted with the rest of `later`
                return;
            }
        }
        count(i, false);
    }

    [[gnu::always_inline]] void hit(std::size_t i, std::string_view v) {
        count(i, true);
        visit_counted(i, v);
    }
    /// A hit already counted.
    void visit_counted(std::size_t i, std::string_view v) {
        ++hits;
        visit_(i, v);
    }

    /// A value handled once the call is over (large, chunked, or undecodable).
    struct Later {
        std::size_t index;
        std::uint32_t flag;
        std::string data;
        bool failed;
    };
    std::list<Later> later{};  ///< a list: a value being read keeps its place (and an
                               ///< empty one allocates nothing)
    std::size_t hits = 0;
    bool unexpected_header = false;
    StoredFailure failure{};

private:
    [[gnu::always_inline]] void count(std::size_t i, bool hit) {
        tally_.count(keys_[i].domain, hit);
    }

    Visitor visit_;
    std::span<const KeyView> keys_;
    DomainTally& tally_;
    const Serializer& serializer_;
    WithheldValue scratch_{};
};

/// The answer to one ms, md, ma or a touching mg: its status, CAS and (ma with v) value.
class StatusSink final : public ResultSink {
public:
    void answer(std::size_t, const ResponseHeader& h, std::string_view v) override {
        code = h.code;
        cas = h.flags.cas_token;
        if (h.code == ResponseCode::value)
            value.assign(v);
    }
    std::string& large_value(std::size_t, const ResponseHeader& h) override {
        code = h.code;
        cas = h.flags.cas_token;
        return value;
    }
    void fail(std::size_t, const Failure& f) override {
        failure.set(f);
        code = ResponseCode::error;
    }

    ResponseCode code = ResponseCode::error;
    std::optional<std::uint64_t> cas{};
    std::string value{};
    StoredFailure failure{};
};

}  // namespace meta_memcache::detail
