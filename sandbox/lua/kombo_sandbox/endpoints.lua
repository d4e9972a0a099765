-- The endpoints the sandbox serves: method, path as Kombo's OpenAPI document
-- writes it, and the operation's name (the SDK's Lua name, which also names
-- the handler in routes.lua). Data only: sandbox/tools/gen-requests.lua
-- reads it to copy these endpoints' request rules out of the document.
return {
  { "GET", "/ats/applications", "get_applications" },
  { "PUT", "/ats/applications/{application_id}/stage", "move_application_to_stage" },
  { "POST", "/ats/applications/{application_id}/result-links", "add_application_result_link" },
  { "POST", "/ats/applications/{application_id}/notes", "add_application_note" },
  { "GET", "/ats/applications/{application_id}/attachments", "get_application_attachments" },
  { "POST", "/ats/applications/{application_id}/attachments", "add_application_attachment" },
  { "POST", "/ats/applications/{application_id}/reject", "reject_application" },
  { "GET", "/ats/candidates", "get_candidates" },
  { "POST", "/ats/candidates", "create_candidate" },
  { "GET", "/ats/candidates/{candidate_id}/attachments", "get_candidate_attachments" },
  { "POST", "/ats/candidates/{candidate_id}/attachments", "add_candidate_attachment" },
  { "POST", "/ats/candidates/{candidate_id}/result-links", "add_candidate_result_link" },
  { "POST", "/ats/candidates/{candidate_id}/tags", "add_candidate_tag" },
  { "DELETE", "/ats/candidates/{candidate_id}/tags", "remove_candidate_tag" },
  { "GET", "/ats/tags", "get_tags" },
  { "GET", "/ats/application-stages", "get_application_stages" },
  { "GET", "/ats/jobs", "get_jobs" },
  { "POST", "/ats/jobs/{job_id}/applications", "create_application" },
  { "GET", "/ats/users", "get_users" },
  { "GET", "/ats/offers", "get_offers" },
  { "GET", "/ats/rejection-reasons", "get_rejection_reasons" },
  { "GET", "/ats/interviews", "get_interviews" },
  { "POST", "/ats/import-tracked-application", "import_tracked_application" },
}
