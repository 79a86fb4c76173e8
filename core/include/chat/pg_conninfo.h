// Configuration-time handling of Postgres connection strings: resolve host names once, so workers never do DNS.
#pragma once

#include <string>
#include <string_view>

#include "chat/result.h"

namespace chat::pg {

// Blocking (getaddrinfo): call only at configuration time (nginx master, chatctl).
// Parses conninfo (key=value or postgresql:// URI) with PQconninfoParse and, for every
// host that is a name (not an IP literal, not a unix socket directory starting with '/'),
// resolves it and adds hostaddr=<ip>, so libpq never resolves a name inside a worker
// (PQconnectStart would do it synchronously). IPv4 addresses are preferred over IPv6 when
// a name has both, because libpq with hostaddr tries only that one address.
// A host list (host=a,b) gets a matching hostaddr list; an existing hostaddr is kept.
// Returns the rewritten conninfo in key='value' form (every given keyword kept, values
// quoted and escaped), or Errc::bad_request with libpq's or the resolver's message.
Result<std::string> resolve_conninfo(std::string_view conninfo);

// Non-blocking check used by Pool: true when connecting with this conninfo would make
// libpq resolve a host name (a host that is a name and no hostaddr for it), or when the
// conninfo does not parse.
bool conninfo_needs_dns(std::string_view conninfo);

}  // namespace chat::pg
