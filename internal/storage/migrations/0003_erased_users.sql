-- Users who asked, when deactivating their account, for their content to be
-- erased (Synapse's erased_users): their profile is cleared and, once
-- rooms exist, their events are served redacted to users who join later.

CREATE TABLE erased_users (
    user_id TEXT PRIMARY KEY REFERENCES users (user_id) ON DELETE CASCADE
);
