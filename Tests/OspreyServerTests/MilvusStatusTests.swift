import GRPCCore
import Testing
@testable import OspreyServer

@Suite("Milvus status codes")
struct MilvusStatusTests {
    /// Milvus's merr → legacy ErrorCode pairs that clients depend on (MILVUS-PROTOCOL.md §2.1).
    static let expectedLegacy: [(MilvusErrorCode, Common_ErrorCode)] = [
        (.success, .success), (.serviceNotReady, .notReadyServe), (.rateLimit, .rateLimit),
        (.quotaExceeded, .forceDeny), (.collectionNotFound, .collectionNotExists),
        (.collectionNotLoaded, .unexpectedError), (.partitionNotFound, .metaFailed),
        (.indexNotFound, .indexNotExist), (.databaseNotFound, .unexpectedError),
        (.invalidParameter, .illegalArgument), (.missingParameter, .unexpectedError),
        (.aliasNotFound, .unexpectedError), (.aliasCollectionNameConflict, .unexpectedError),
        (.aliasAlreadyExists, .unexpectedError), (.fieldNotFound, .unexpectedError),
        (.unexpected, .unexpectedError),
    ]

    @Test("every code maps to Milvus's legacy code", arguments: expectedLegacy)
    func legacyCodes(code: MilvusErrorCode, legacy: Common_ErrorCode) {
        #expect(code.legacyCode == legacy)
        let status = Common_Status(code, reason: "r")
        #expect(status.code == code.rawValue)
        #expect(status.errorCode == legacy)
    }

    @Test func tableCoversEveryCode() {
        #expect(Set(Self.expectedLegacy.map(\.0)) == Set(MilvusErrorCode.allCases))
    }

    @Test func successIsAllZero() {
        let status = Common_Status(.success, reason: "ignored")
        #expect(status == Common_Status.success)
        #expect(!status.isError)
        #expect(status.extraInfo.isEmpty)
    }

    @Test func inputErrorsAreMarked() {
        let bad = Common_Status(.invalidParameter, reason: "dim must be positive")
        #expect(bad.isError)
        #expect(bad.reason == "dim must be positive")
        #expect(bad.extraInfo["is_input_error"] == "true")
        #expect(Common_Status(.collectionNotFound, reason: "x").extraInfo["is_input_error"] == "true")
        #expect(Common_Status(.unexpected, reason: "x").extraInfo["is_input_error"] == "false")
        #expect(Common_Status(.rateLimit, reason: "x").retriable)
        #expect(!Common_Status(.invalidParameter, reason: "x").retriable)
    }

    @Test func notSupportedNamesTheRPC() {
        let status = MilvusError.notSupported("ListCredUsers").status
        #expect(status.code == 65535)
        #expect(status.errorCode == .unexpectedError)
        #expect(status.reason == "ListCredUsers is not supported by this server (Osprey)")
    }

    @Test func answerTurnsErrorsIntoStatus() async {
        let thrown = await Milvus_DescribeCollectionResponse.answer {
            throw MilvusError(.collectionNotFound, "collection not found[collection=books]")
        }
        #expect(thrown.status.code == 100)
        #expect(thrown.status.errorCode == .collectionNotExists)
        #expect(thrown.status.reason == "collection not found[collection=books]")

        struct Opaque: Error {}
        let opaque = await Common_Status.answer { throw Opaque() }
        #expect(opaque.code == MilvusErrorCode.unexpected.rawValue)

        let fine = await Milvus_GetVersionResponse.answer {
            var response = Milvus_GetVersionResponse()
            response.version = "v"
            return response
        }
        #expect(fine.version == "v")
        #expect(!fine.status.isError)
    }
}

@Suite("Call headers")
struct MilvusCallTests {
    @Test func headersNameTheDatabaseAndClient() {
        let call = MilvusCall(metadata: ["dbname": "books", "identifier": "42", "client-request-id": "r-1"])
        #expect(call == MilvusCall(database: "books", identifier: 42, requestID: "r-1"))
        #expect(call.database(requestField: "") == "books")
        #expect(call.database(requestField: "films") == "films")
    }

    @Test func emptyOrMissingDatabaseMeansDefault() {
        #expect(MilvusCall(metadata: [:]).database == "default")
        #expect(MilvusCall(metadata: ["dbname": ""]).database == "default")
        #expect(MilvusCall(metadata: ["identifier": "not a number"]).identifier == nil)
    }
}
