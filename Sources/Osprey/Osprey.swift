@_exported import OspreyCore
