import Osprey
