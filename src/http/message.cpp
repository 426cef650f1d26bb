// Pure helpers of the HTTP module (include/clusterd/http/message.hpp).
#include "clusterd/http/message.hpp"

#include "clusterd/base/text.hpp"

#include <cctype>

namespace clusterd::http {
namespace {

/// Length of the valid UTF-8 sequence at s[i], or 0 when it is not one.
std::size_t utf8_length(std::string_view s, std::size_t i) {
    const auto b = [&](std::size_t k) { return static_cast<unsigned char>(s[k]); };
    const unsigned char c = b(i);
    std::size_t n = 0;
    unsigned min = 0;
    unsigned cp = 0;
    if (c < 0x80)
        return 1;
    if ((c & 0xE0) == 0xC0) {
        n = 2;
        cp = c & 0x1F;
        min = 0x80;
    } else if ((c & 0xF0) == 0xE0) {
        n = 3;
        cp = c & 0x0F;
        min = 0x800;
    } else if ((c & 0xF8) == 0xF0) {
        n = 4;
        cp = c & 0x07;
        min = 0x10000;
    } else {
        return 0;
    }
    if (i + n > s.size())
        return 0;
    for (std::size_t k = 1; k < n; ++k) {
        if ((b(i + k) & 0xC0) != 0x80)
            return 0;
        cp = (cp << 6) | (b(i + k) & 0x3F);
    }
    if (cp < min || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF))
        return 0;
    return n;
}

} // namespace

const std::string* Request::header(std::string_view lower_name) const {
    for (const auto& [k, v] : headers)
        if (k == lower_name)
            return &v;
    return nullptr;
}

std::optional<std::string> Request::query_param(std::string_view name) const {
    std::string_view q = query;
    while (!q.empty()) {
        const auto amp = q.find('&');
        const std::string_view part = q.substr(0, amp);
        q = amp == std::string_view::npos ? std::string_view{} : q.substr(amp + 1);
        const auto eq = part.find('=');
        if (percent_decode(part.substr(0, eq)) == name)
            return eq == std::string_view::npos ? std::string{} : percent_decode(part.substr(eq + 1));
    }
    return std::nullopt;
}

std::string_view status_text(int status) {
    switch (status) {
    case 200:
        return "OK";
    case 204:
        return "No Content";
    case 303:
        return "See Other";
    case 400:
        return "Bad Request";
    case 401:
        return "Unauthorized";
    case 403:
        return "Forbidden";
    case 404:
        return "Not Found";
    case 405:
        return "Method Not Allowed";
    case 408:
        return "Request Timeout";
    case 413:
        return "Content Too Large";
    case 431:
        return "Request Header Fields Too Large";
    case 500:
        return "Internal Server Error";
    case 501:
        return "Not Implemented";
    case 503:
        return "Service Unavailable";
    case 505:
        return "HTTP Version Not Supported";
    default:
        return "Unknown";
    }
}

Response error_response(int status, std::string_view detail) {
    Response r;
    r.status = status;
    r.body = std::to_string(status) + " " + std::string(status_text(status)) + "\n";
    if (!detail.empty())
        r.body += std::string(detail) + "\n";
    return r;
}

std::string html_escape(std::string_view s) {
    std::string out;
    out.reserve(s.size());
    for (char c : s) {
        switch (c) {
        case '&':
            out += "&amp;";
            break;
        case '<':
            out += "&lt;";
            break;
        case '>':
            out += "&gt;";
            break;
        case '"':
            out += "&quot;";
            break;
        case '\'':
            out += "&#39;";
            break;
        default:
            out += c;
        }
    }
    return out;
}

std::string json_quote(std::string_view s) {
    static const char* hex = "0123456789abcdef";
    std::string out = "\"";
    out.reserve(s.size() + 2);
    for (std::size_t i = 0; i < s.size();) {
        const auto c = static_cast<unsigned char>(s[i]);
        const std::size_t n = utf8_length(s, i);
        if (n == 0) {
            out += "\\ufffd";
            ++i;
            continue;
        }
        if (n > 1) {
            out.append(s.substr(i, n));
            i += n;
            continue;
        }
        ++i;
        switch (c) {
        case '"':
            out += "\\\"";
            break;
        case '\\':
            out += "\\\\";
            break;
        case '\n':
            out += "\\n";
            break;
        case '\r':
            out += "\\r";
            break;
        case '\t':
            out += "\\t";
            break;
        default:
            if (c < 0x20 || c == '<' || c == '>' || c == '&' || c == 0x7f) {
                out += "\\u00";
                out += hex[c >> 4];
                out += hex[c & 15];
            } else {
                out += static_cast<char>(c);
            }
        }
    }
    out += '"';
    return out;
}

std::string percent_decode(std::string_view s) {
    std::string out;
    out.reserve(s.size());
    for (std::size_t i = 0; i < s.size(); ++i) {
        if (s[i] == '+') {
            out += ' ';
        } else if (s[i] == '%' && i + 2 < s.size() && base::hex_value(s[i + 1]) >= 0 &&
                   base::hex_value(s[i + 2]) >= 0) {
            out += static_cast<char>(base::hex_value(s[i + 1]) * 16 + base::hex_value(s[i + 2]));
            i += 2;
        } else {
            out += s[i];
        }
    }
    return out;
}

bool authorized(const Request& req, std::string_view token) {
    if (token.empty())
        return true;
    bool ok = false;
    if (const auto* auth = req.header("authorization")) {
        std::string_view v = *auth;
        if (v.size() > 7 && (v.substr(0, 7) == "Bearer " || v.substr(0, 7) == "bearer "))
            ok = constant_time_equal(v.substr(7), token);
    }
    for (const auto& [k, v] : req.headers) {
        if (k != "cookie")
            continue;
        std::string_view rest = v;
        while (!rest.empty()) {
            const auto semi = rest.find(';');
            std::string_view part = rest.substr(0, semi);
            rest = semi == std::string_view::npos ? std::string_view{} : rest.substr(semi + 1);
            while (!part.empty() && part.front() == ' ')
                part.remove_prefix(1);
            if (part.substr(0, 15) == "clusterd_token=")
                ok = constant_time_equal(part.substr(15), token) || ok;
        }
    }
    return ok;
}

void Router::get(std::string path, Handler h) {
    routes_.emplace_back(std::move(path), std::move(h));
}

Response Router::route(const Request& req) const {
    for (const auto& [path, h] : routes_) {
        if (path != req.path)
            continue;
        if (req.method != "GET" && req.method != "HEAD") {
            Response r = error_response(405, "only GET and HEAD are served here");
            r.headers.emplace_back("Allow", "GET, HEAD");
            return r;
        }
        return h(req);
    }
    return error_response(404);
}

} // namespace clusterd::http
