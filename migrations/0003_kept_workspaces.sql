-- A sandbox deleted with keepWorkspace leaves its workspace on disk; the next sandbox of the
-- same project takes it over. workspace_from names the deleted sandbox it came from, so a
-- kept workspace is handed out at most once.
alter table sandboxes add column workspace_from text references sandboxes(id);
create unique index sandboxes_workspace_from on sandboxes (workspace_from) where workspace_from is not null;
