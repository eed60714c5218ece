import DifferentialPrivacy
import Paillier

extension Wire.PrivacyCost {
    /// The wire form of one privacy event.
    public init(_ event: MechanismEvent, relation: NeighbouringRelation, unit: String, epsilon: Double, delta: Double) {
        self.init()
        mechanism = event.mechanism.rawValue
        noise = event.noise
        sensitivity = event.sensitivity
        dimension = UInt32(clamping: event.dimension)
        shares = UInt32(clamping: event.shares)
        count = UInt32(clamping: event.count)
        self.relation = relation.rawValue
        self.unit = unit
        self.epsilon = epsilon
        self.delta = delta
    }

    /// The event, every field checked (kind known, numbers finite and in range).
    public func event() throws -> MechanismEvent {
        guard let kind = MechanismKind(rawValue: mechanism) else {
            throw ProtocolError.malformed(message: "PrivacyCost", field: "mechanism", reason: "unknown mechanism \"\(mechanism.prefix(40))\"")
        }
        let event = MechanismEvent(
            mechanism: kind, noise: noise, sensitivity: sensitivity, dimension: Int(dimension),
            shares: Int(shares), count: Int(count))
        do { try event.validate() } catch {
            throw ProtocolError.malformed(message: "PrivacyCost", field: "event", reason: "\(error)")
        }
        return event
    }

    /// The neighbouring relation, checked.
    public func neighbouringRelation() throws -> NeighbouringRelation {
        guard let value = NeighbouringRelation(rawValue: relation) else {
            throw ProtocolError.malformed(message: "PrivacyCost", field: "relation", reason: "unknown relation \"\(relation.prefix(40))\"")
        }
        return value
    }
}

extension Wire.SlotLayout {
    public init(_ layout: SlotLayout) {
        self.init()
        valueBound = layout.valueBound
        noiseBound = layout.noiseBound
        parties = UInt32(clamping: layout.parties)
        guardBits = UInt32(clamping: layout.guardBits)
        modulusBits = UInt32(clamping: layout.modulusBits)
        slotBits = UInt32(clamping: layout.slotBits)
        slotsPerPlaintext = UInt32(clamping: layout.slotsPerPlaintext)
    }

    /// Rebuilds the layout from its defining fields and refuses derived fields that disagree.
    public func layout() throws -> SlotLayout {
        guard parties >= 1, parties <= WireProtocol.maximumParties else {
            throw ProtocolError.malformed(message: "SlotLayout", field: "parties", reason: "must be in 1...\(WireProtocol.maximumParties)")
        }
        guard modulusBits >= 64, modulusBits <= 16384 else {
            throw ProtocolError.malformed(message: "SlotLayout", field: "modulus_bits", reason: "must be in 64...16384")
        }
        let layout: SlotLayout
        do {
            layout = try SlotLayout(
                valueBound: valueBound, noiseBound: noiseBound, parties: Int(parties),
                modulusBits: Int(modulusBits), guardBits: Int(guardBits))
        } catch {
            throw ProtocolError.malformed(message: "SlotLayout", field: "bounds", reason: "\(error)")
        }
        guard layout.slotBits == Int(slotBits), layout.slotsPerPlaintext == Int(slotsPerPlaintext) else {
            throw ProtocolError.malformed(message: "SlotLayout", field: "slot_bits", reason: "derived fields do not match the bounds")
        }
        return layout
    }
}
