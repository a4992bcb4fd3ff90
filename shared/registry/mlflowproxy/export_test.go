package mlflowproxy

// VersionSource is versionSource, for the fuzz target.
var VersionSource = versionSource
