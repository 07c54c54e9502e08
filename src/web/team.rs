//! The team (Group) page: members, parent and sub-teams, what the team owns, its problems and coverage.
