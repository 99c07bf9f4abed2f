-- A custom domain is the project's that proves it, not the first to type its name: a claim
-- nobody has verified no longer reserves the host name instance-wide (another user could hold
-- www.company.example pending forever and keep the company from adding it). Any number of
-- projects may wait on one name; only one may hold it verified, and once one does, adding it
-- elsewhere is refused (SPEC: unique across the instance, as served).
ALTER TABLE domains DROP CONSTRAINT domains_hostname_key;
ALTER TABLE domains ADD CONSTRAINT domains_project_hostname UNIQUE (project_id, hostname);
CREATE UNIQUE INDEX domains_verified_hostname ON domains (hostname) WHERE status = 'verified';
