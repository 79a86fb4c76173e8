// Department input (API.md "Operators", Department): the fields of an admin create or
// patch checked against limits.h and normalised, so SQL only ever stores valid ones.
#pragma once

#include <string_view>

#include "chat/json.h"
#include "chat/result.h"

namespace chat::department {

// The fields of POST /admin/departments (create) or PATCH /admin/departments/{id}, as
// {"name", "strategy", "agent_ids", "hours"}: on create every one (name required, else
// Errc::bad_request; strategy limits::kStrategyDefault, agent_ids [] and hours null when
// absent), on a patch only those given (hours: null clears them). name is trimmed of
// spaces, 1..limits::kDepartmentNameChars characters without control characters;
// agent_ids are at most limits::kDepartmentAgentsMax UUIDs, lowercased and deduplicated
// in first-seen order; hours as check_hours. A bad field is Errc::validation with a
// message that starts with the field's name. Other keys are ignored, as the other admin
// endpoints do. Whether the agents exist and the time zone is known is Postgres's to say.
Result<json::Value> check_fields(const json::Value& in, bool create) noexcept;

// Business hours: null (always open) or {"tz": a time zone name (valid_time_zone_name),
// "mon".."sun": ["HH:MM", "HH:MM"]} with start < end, "24:00" allowed only as an end; a
// day left out is closed, any other key is refused. Rebuilt with tz first, then the days
// in week order. Errc::validation, the message starting with "hours".
Result<json::Value> check_hours(const json::Value& hours) noexcept;

// An IANA time zone name as hours.tz may spell it: limits::kTimeZoneBytes long, parts of
// letters, digits, '_', '+' and '-' separated by single '/', the first starting with a
// letter ("Europe/Berlin", "UTC", "Etc/GMT+1", "America/Argentina/Buenos_Aires").
bool valid_time_zone_name(std::string_view s) noexcept;

}  // namespace chat::department
