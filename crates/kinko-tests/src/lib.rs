//! kinko-tests
