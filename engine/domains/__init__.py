"""Custom domains: a project's own host names, proved through DNS, served like its
`<project>.<domain>` and given certificates when HTTPS is on."""
