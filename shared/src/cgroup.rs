//! Security types as cgroup v2 directories (`secpol/<type>` under the cgroup2 mount).
