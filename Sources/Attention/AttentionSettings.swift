import Foundation

/// The attention part of a federation manifest (its `[attention]` table, Papers/design.md §1):
/// where the model's anchors and encoder come from and how data columns map to features, group
/// and user. The model itself, with those files loaded, is an `AttentionModel`.
public struct AttentionSettings: Sendable, Equatable {
    public var anchorsURL: URL
    public var encoderURL: URL?
    /// As written; `model.scale` holds the effective value.
    public var scale: Double?
    public var groups: [String]
    /// `nil`: every column except the group, user and ignored columns.
    public var features: [String]?
    public var groupColumn: String
    public var userColumn: String?
    /// The column naming the catalog entry each record is about (`item_column`): what a
    /// request's catalog filters select records by. Never a feature.
    public var itemColumn: String?
    public var maxRecordsPerUser: Int?
    public var ignoreColumns: [String]

    public init(
        anchorsURL: URL, encoderURL: URL? = nil, scale: Double? = nil, groups: [String], features: [String]? = nil,
        groupColumn: String = "group", userColumn: String? = nil, itemColumn: String? = nil, maxRecordsPerUser: Int? = nil, ignoreColumns: [String] = []
    ) {
        self.anchorsURL = anchorsURL
        self.encoderURL = encoderURL
        self.scale = scale
        self.groups = groups
        self.features = features
        self.groupColumn = groupColumn
        self.userColumn = userColumn
        self.itemColumn = itemColumn
        self.maxRecordsPerUser = maxRecordsPerUser
        self.ignoreColumns = ignoreColumns
    }

    /// The records counted per user: `max_records_per_user` where a user column names the users,
    /// else `nil` (no bound).
    public var recordsPerUserBound: Int? { userColumn == nil ? nil : maxRecordsPerUser }
}
