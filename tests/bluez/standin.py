#!/usr/bin/python3
"""A BlueZ stand-in for tests: owns org.bluez on a private D-Bus and exports one adapter and one
sensor with the Heart Rate (0x180D) and Running Speed and Cadence (0x1814) services, the way
BlueZ does, so that btleplug's real code path (scan, connect, discover, subscribe, notify,
disconnect) runs without a radio. See ../shared/ble.md for what bluez-async needs.

Once both characteristics are subscribed it notifies every 0.1 s: RSC (3.0 m/s, 78 strides/min,
running) and heart rate (150 bpm). After --drop-after RSC notifications it drops the connection
once (Connected and ServicesResolved go false) and waits to be connected again. It exits after
--total RSC notifications in all, or when its parent bus goes away.

Usage: standin.py --drop-after N --total M   (DBUS_SYSTEM_BUS_ADDRESS names the bus)
"""

import argparse
import sys

import dbus
import dbus.mainloop.glib
import dbus.service
from gi.repository import GLib

BLUEZ = "org.bluez"
PROPS = "org.freedesktop.DBus.Properties"
OM = "org.freedesktop.DBus.ObjectManager"
ADAPTER_PATH = "/org/bluez/hci0"
DEVICE_PATH = ADAPTER_PATH + "/dev_AA_BB_CC_DD_EE_01"
HR_SERVICE = "0000180d-0000-1000-8000-00805f9b34fb"
RSC_SERVICE = "00001814-0000-1000-8000-00805f9b34fb"
BATTERY_SERVICE = "0000180f-0000-1000-8000-00805f9b34fb"
DEVICE_INFO = "0000180a-0000-1000-8000-00805f9b34fb"
HRM = "00002a37-0000-1000-8000-00805f9b34fb"
RSCM = "00002a53-0000-1000-8000-00805f9b34fb"
BATTERY_LEVEL = "00002a19-0000-1000-8000-00805f9b34fb"
MANUFACTURER = "00002a29-0000-1000-8000-00805f9b34fb"
MODEL = "00002a24-0000-1000-8000-00805f9b34fb"


class Obj(dbus.service.Object):
    """An exported object with properties per interface and the Properties interface."""

    def __init__(self, bus, path, interfaces):
        super().__init__(bus, path)
        self.path = path
        self.interfaces = interfaces  # {interface: {name: value}}

    def managed(self):
        return {iface: dict(props) for iface, props in self.interfaces.items()}

    def set_props(self, iface, changes):
        self.interfaces[iface].update(changes)
        self.PropertiesChanged(iface, changes, dbus.Array([], signature="s"))

    @dbus.service.method(PROPS, in_signature="ss", out_signature="v")
    def Get(self, iface, name):
        return self.interfaces[iface][name]

    @dbus.service.method(PROPS, in_signature="s", out_signature="a{sv}")
    def GetAll(self, iface):
        return self.interfaces.get(iface, {})

    @dbus.service.method(PROPS, in_signature="ssv")
    def Set(self, iface, name, value):
        self.set_props(iface, {name: value})

    @dbus.service.signal(PROPS, signature="sa{sv}as")
    def PropertiesChanged(self, iface, changed, invalidated):
        pass


class Root(dbus.service.Object):
    def __init__(self, bus, objects):
        super().__init__(bus, "/")
        self.objects = objects

    @dbus.service.method(OM, out_signature="a{oa{sa{sv}}}")
    def GetManagedObjects(self):
        return {dbus.ObjectPath(o.path): o.managed() for o in self.objects}

    @dbus.service.signal(OM, signature="oa{sa{sv}}")
    def InterfacesAdded(self, path, interfaces):
        pass


class Adapter(Obj):
    def __init__(self, bus):
        super().__init__(bus, ADAPTER_PATH, {
            "org.bluez.Adapter1": {
                "Address": dbus.String("00:11:22:33:44:55"),
                "AddressType": dbus.String("public"),
                "Modalias": dbus.String("usb:v1D6Bp0246d0537"),
                "Name": dbus.String("standin"),
                "Alias": dbus.String("standin"),
                "Powered": dbus.Boolean(True),
                "Discovering": dbus.Boolean(False),
            }
        })

    @dbus.service.method("org.bluez.Adapter1")
    def StartDiscovery(self):
        self.set_props("org.bluez.Adapter1", {"Discovering": dbus.Boolean(True)})

    @dbus.service.method("org.bluez.Adapter1")
    def StopDiscovery(self):
        self.set_props("org.bluez.Adapter1", {"Discovering": dbus.Boolean(False)})

    @dbus.service.method("org.bluez.Adapter1", in_signature="a{sv}")
    def SetDiscoveryFilter(self, _filter):
        pass


class Device(Obj):
    def __init__(self, bus, sensor):
        super().__init__(bus, DEVICE_PATH, {
            "org.bluez.Device1": {
                "Address": dbus.String("AA:BB:CC:DD:EE:01"),
                "AddressType": dbus.String("random"),
                "Name": dbus.String("Strideguard Footpod"),
                "Alias": dbus.String("Strideguard Footpod"),
                "Adapter": dbus.ObjectPath(ADAPTER_PATH),
                "Paired": dbus.Boolean(False),
                "Connected": dbus.Boolean(False),
                "ServicesResolved": dbus.Boolean(False),
                "Trusted": dbus.Boolean(False),
                "Blocked": dbus.Boolean(False),
                "LegacyPairing": dbus.Boolean(False),
                "RSSI": dbus.Int16(-58),
                "UUIDs": dbus.Array([HR_SERVICE, RSC_SERVICE], signature="s"),
            }
        })
        self.sensor = sensor

    @dbus.service.method("org.bluez.Device1")
    def Connect(self):
        self.set_props("org.bluez.Device1", {"Connected": dbus.Boolean(True)})
        self.set_props("org.bluez.Device1", {"ServicesResolved": dbus.Boolean(True)})
        self.sensor.connections += 1

    @dbus.service.method("org.bluez.Device1")
    def Disconnect(self):
        self.sensor.drop()


class Service(Obj):
    def __init__(self, bus, path, uuid):
        super().__init__(bus, path, {
            "org.bluez.GattService1": {
                "UUID": dbus.String(uuid),
                "Primary": dbus.Boolean(True),
                "Device": dbus.ObjectPath(DEVICE_PATH),
            }
        })


class Characteristic(Obj):
    IFACE = "org.bluez.GattCharacteristic1"

    def __init__(self, bus, path, uuid, service_path, flags=("notify",), value=b""):
        super().__init__(bus, path, {
            self.IFACE: {
                "UUID": dbus.String(uuid),
                "Service": dbus.ObjectPath(service_path),
                "Flags": dbus.Array(list(flags), signature="s"),
                "Notifying": dbus.Boolean(False),
                "Value": dbus.Array([dbus.Byte(b) for b in value], signature="y"),
            }
        })

    @dbus.service.method(IFACE, in_signature="a{sv}", out_signature="ay")
    def ReadValue(self, _options):
        return self.interfaces[self.IFACE]["Value"]

    @dbus.service.method(IFACE)
    def StartNotify(self):
        self.set_props(self.IFACE, {"Notifying": dbus.Boolean(True)})

    @dbus.service.method(IFACE)
    def StopNotify(self):
        self.set_props(self.IFACE, {"Notifying": dbus.Boolean(False)})

    def notifying(self):
        return bool(self.interfaces[self.IFACE]["Notifying"])

    def notify(self, data):
        self.set_props(self.IFACE, {"Value": dbus.Array([dbus.Byte(b) for b in data], signature="y")})


class Sensor:
    def __init__(self, bus, drop_after, total, loop):
        self.drop_after, self.total, self.loop = drop_after, total, loop
        self.sent = 0
        self.dropped = False
        self.connections = 0
        self.device = Device(bus, self)
        hr_svc = Service(bus, DEVICE_PATH + "/service0010", HR_SERVICE)
        self.hr = Characteristic(bus, DEVICE_PATH + "/service0010/char0011", HRM, hr_svc.path)
        rsc_svc = Service(bus, DEVICE_PATH + "/service0020", RSC_SERVICE)
        self.rsc = Characteristic(bus, DEVICE_PATH + "/service0020/char0021", RSCM, rsc_svc.path)
        # A nearly flat battery (12%) and the device information the bridge reads on connect.
        bat_svc = Service(bus, DEVICE_PATH + "/service0030", BATTERY_SERVICE)
        bat = Characteristic(bus, DEVICE_PATH + "/service0030/char0031", BATTERY_LEVEL, bat_svc.path,
                             flags=("read",), value=bytes([12]))
        info_svc = Service(bus, DEVICE_PATH + "/service0040", DEVICE_INFO)
        maker = Characteristic(bus, DEVICE_PATH + "/service0040/char0041", MANUFACTURER, info_svc.path,
                               flags=("read",), value=b"Strideguard Labs")
        model = Characteristic(bus, DEVICE_PATH + "/service0040/char0043", MODEL, info_svc.path,
                               flags=("read",), value=b"SG-1")
        self.objects = [self.device, hr_svc, self.hr, rsc_svc, self.rsc, bat_svc, bat,
                        info_svc, maker, model]

    def connected(self):
        return bool(self.device.interfaces["org.bluez.Device1"]["Connected"])

    def drop(self):
        for c in (self.hr, self.rsc):
            c.set_props(Characteristic.IFACE, {"Notifying": dbus.Boolean(False)})
        self.device.set_props("org.bluez.Device1", {"ServicesResolved": dbus.Boolean(False)})
        self.device.set_props("org.bluez.Device1", {"Connected": dbus.Boolean(False)})

    def tick(self):
        if self.connected() and self.hr.notifying() and self.rsc.notifying():
            self.hr.notify([0x06, 150])
            self.rsc.notify([0x04, 0x00, 0x03, 78])
            self.sent += 1
            if self.sent == self.drop_after and not self.dropped:
                self.dropped = True
                self.drop()
            if self.sent >= self.total:
                self.drop()
                GLib.timeout_add(500, self.loop.quit)
                return False
        return True


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--drop-after", type=int, default=20)
    ap.add_argument("--total", type=int, default=60)
    args = ap.parse_args()
    dbus.mainloop.glib.DBusGMainLoop(set_as_default=True)
    bus = dbus.SystemBus()
    loop = GLib.MainLoop()
    adapter = Adapter(bus)
    sensor = Sensor(bus, args.drop_after, args.total, loop)
    Root(bus, [adapter] + sensor.objects)
    # Own the name last, so that clients see a complete tree.
    name = dbus.service.BusName(BLUEZ, bus, do_not_queue=True)
    print("ready", flush=True)
    GLib.timeout_add(100, sensor.tick)
    # Never outlive the test: stop after two minutes whatever happens.
    GLib.timeout_add_seconds(120, loop.quit)
    loop.run()
    del name
    return 0


if __name__ == "__main__":
    sys.exit(main())
