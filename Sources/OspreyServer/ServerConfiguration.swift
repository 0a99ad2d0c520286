import Foundation

/// Everything `osprey serve` needs to know: where to listen, where the data lives, TLS,
/// limits.
///
/// Each setting has a key (`data-dir`), a command-line flag (`--data-dir`), an environment
/// variable (`OSPREY_DATA_DIR`) and a config-file line (`data-dir = ./data`). A flag wins
/// over the environment, which wins over the config file, which wins over the default.
/// See ``SettingKey`` for the keys and docs/server.md for the file format.
///
/// Thread safety: a value type; safe to share.
package struct ServerConfiguration: Sendable, Equatable {
    /// The address to bind: an IPv4 or IPv6 literal, or `localhost`.
    package var host = "127.0.0.1"
    /// The TCP port; 0 asks the system for a free one.
    package var port = 19530
    /// Where the database keeps its files.
    package var dataDirectory = "./osprey-data"
    /// TLS material; `nil` serves cleartext HTTP/2 (h2c).
    package var tls: TLSFiles?
    /// The largest request message accepted, in bytes.
    package var maxMessageBytes = 256 << 20
    /// The swift-log level name (`trace` … `critical`).
    package var logLevel = "info"
    /// How long a shutdown waits for in-flight requests before it cancels them.
    package var shutdownGracePeriod: Duration = .seconds(30)

    package init() {}
}

/// Paths of the PEM files that turn TLS on.
///
/// With `clientCA` set, TLS is mutual: clients must present a certificate signed by it.
///
/// Thread safety: a value type; safe to share.
package struct TLSFiles: Sendable, Equatable {
    /// The server's certificate chain (PEM), leaf first.
    package var certificateChain: String
    /// The private key of the leaf certificate (PEM).
    package var privateKey: String
    /// The CA (PEM) that client certificates must chain to; `nil` for one-way TLS.
    package var clientCA: String?

    package var isMutual: Bool { clientCA != nil }
}

/// The settings of `osprey serve`, by key.
///
/// Thread safety: a value type; safe to share.
package enum SettingKey: String, Sendable, CaseIterable {
    case host
    case port
    case dataDir = "data-dir"
    case tlsCert = "tls-cert"
    case tlsKey = "tls-key"
    case tlsCA = "tls-ca"
    case maxMessageMiB = "max-message-mib"
    case logLevel = "log-level"
    case shutdownGraceSeconds = "shutdown-grace-seconds"

    /// The environment variable that sets this key: `OSPREY_` and the key in upper case.
    package var environmentVariable: String {
        "OSPREY_" + rawValue.uppercased().replacingOccurrences(of: "-", with: "_")
    }

    /// The environment variable naming a config file.
    package static let configEnvironmentVariable = "OSPREY_CONFIG"

    /// Accepts `data-dir`, `data_dir` and any case.
    package init?(loose name: String) {
        self.init(rawValue: name.lowercased().replacingOccurrences(of: "_", with: "-"))
    }
}

/// A setting that cannot be used, with the reason; the message names the setting's source.
///
/// Thread safety: a value type; safe to share.
package struct ConfigurationError: Error, Sendable, Equatable, CustomStringConvertible {
    package var message: String
    package init(_ message: String) { self.message = message }
    package var description: String { message }
}

extension ServerConfiguration {
    /// Resolves the configuration from flags (by key; only those given), the environment,
    /// and the config file named by the `config` flag or `OSPREY_CONFIG`, if any.
    package static func load(
        flags: [SettingKey: String],
        configFile: String?,
        environment: [String: String] = ProcessInfo.processInfo.environment
    ) throws(ConfigurationError) -> ServerConfiguration {
        var fileSettings: [SettingKey: String] = [:]
        if let path = configFile ?? environment[SettingKey.configEnvironmentVariable] {
            let text: String
            do {
                text = try String(contentsOfFile: path, encoding: .utf8)
            } catch {
                throw ConfigurationError("cannot read config file \(path): \(error.localizedDescription)")
            }
            fileSettings = try parseConfigFile(text, path: path)
        }
        return try resolve(flags: flags, environment: environment, file: fileSettings)
    }

    /// Merges the three sources (flag > environment > file > default) and validates.
    package static func resolve(
        flags: [SettingKey: String],
        environment: [String: String],
        file: [SettingKey: String]
    ) throws(ConfigurationError) -> ServerConfiguration {
        func value(_ key: SettingKey) -> (String, source: String)? {
            if let v = flags[key] { return (v, "--\(key.rawValue)") }
            if let v = environment[key.environmentVariable] { return (v, key.environmentVariable) }
            if let v = file[key] { return (v, "config file key \(key.rawValue)") }
            return nil
        }
        func integer(_ key: SettingKey, in range: ClosedRange<Int>) throws(ConfigurationError) -> Int? {
            guard let (text, source) = value(key) else { return nil }
            guard let number = Int(text.trimmingCharacters(in: .whitespaces)), range.contains(number) else {
                throw ConfigurationError(
                    "\(source) must be an integer in \(range.lowerBound)...\(range.upperBound), got '\(text)'")
            }
            return number
        }

        var config = ServerConfiguration()
        if let (host, source) = value(.host) {
            guard !host.isEmpty else { throw ConfigurationError("\(source) must not be empty") }
            config.host = host
        }
        if let port = try integer(.port, in: 0...65535) { config.port = port }
        if let (dir, source) = value(.dataDir) {
            guard !dir.isEmpty else { throw ConfigurationError("\(source) must not be empty") }
            config.dataDirectory = dir
        }
        if let mib = try integer(.maxMessageMiB, in: 1...4095) { config.maxMessageBytes = mib << 20 }
        if let seconds = try integer(.shutdownGraceSeconds, in: 0...3600) {
            config.shutdownGracePeriod = .seconds(seconds)
        }
        if let (level, source) = value(.logLevel) {
            let levels = ["trace", "debug", "info", "notice", "warning", "error", "critical"]
            guard levels.contains(level.lowercased()) else {
                throw ConfigurationError("\(source) must be one of \(levels.joined(separator: ", ")), got '\(level)'")
            }
            config.logLevel = level.lowercased()
        }

        let cert = value(.tlsCert), key = value(.tlsKey), ca = value(.tlsCA)
        switch (cert, key) {
        case let ((certPath, _)?, (keyPath, _)?):
            config.tls = TLSFiles(certificateChain: certPath, privateKey: keyPath, clientCA: ca?.0)
        case ((_, let source)?, nil):
            throw ConfigurationError("\(source) needs a private key too (--tls-key)")
        case (nil, (_, let source)?):
            throw ConfigurationError("\(source) needs a certificate too (--tls-cert)")
        case (nil, nil):
            if let (_, source) = ca {
                throw ConfigurationError("\(source) (mutual TLS) needs --tls-cert and --tls-key")
            }
        }
        return config
    }

    /// Parses a config file: one `key = value` per line; `#` starts a comment; blank lines
    /// are skipped; a value may be wrapped in double quotes. Unknown keys are errors, so a
    /// typo never goes unnoticed.
    package static func parseConfigFile(
        _ text: String, path: String
    ) throws(ConfigurationError) -> [SettingKey: String] {
        var settings: [SettingKey: String] = [:]
        for (index, rawLine) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
            var line = Substring(rawLine)
            if let hash = line.firstIndex(of: "#") { line = line[..<hash] }
            let trimmed = line.trimmingCharacters(in: .whitespaces)
            if trimmed.isEmpty { continue }
            let place = "\(path):\(index + 1)"
            guard let equals = trimmed.firstIndex(of: "=") else {
                throw ConfigurationError("\(place): expected 'key = value', got '\(trimmed)'")
            }
            let name = trimmed[..<equals].trimmingCharacters(in: .whitespaces)
            var value = trimmed[trimmed.index(after: equals)...].trimmingCharacters(in: .whitespaces)
            if value.count >= 2, value.hasPrefix("\""), value.hasSuffix("\"") {
                value = String(value.dropFirst().dropLast())
            }
            guard let key = SettingKey(loose: name) else {
                let known = SettingKey.allCases.map(\.rawValue).joined(separator: ", ")
                throw ConfigurationError("\(place): unknown setting '\(name)' (known: \(known))")
            }
            settings[key] = value
        }
        return settings
    }
}
