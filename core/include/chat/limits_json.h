// The table of limits.h as JSON (`chatctl limits`): what t/07-limits.t checks sql/ against.
#pragma once

#include <string>

namespace chat::limits {

// {"schema": {"<table>.<column>": {"values"|"min_length"|"max_length"|"min"|"pattern"}},
//  "functions": {...}, "api": {...}, "cookies": {...}, "directives": {...}}.
// "schema" holds exactly the bounds sql/'s CHECK constraints must enforce; "functions"
// the value lists that SQL functions check (22 = refused with SQLSTATE CH422).
std::string to_json();

}  // namespace chat::limits
