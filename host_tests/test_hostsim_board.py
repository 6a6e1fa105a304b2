"""board, microcontroller, watchdog, supervisor, wifi and espidf of the virtual board."""

import time

import pytest

from hostsim.world import TICKS_PERIOD, BoardReset, SoftReload


def test_ticks_start_65_seconds_before_the_wrap(board):
    board.boot()
    supervisor = board.module("supervisor")
    ticks = supervisor.ticks_ms()
    assert 0 <= ticks - (TICKS_PERIOD - 65_536) < 1000  # boot offset plus the few ms since boot
    board.world.boot_time -= 66  # 66 s of uptime later
    assert supervisor.ticks_ms() < 1000


@pytest.mark.parametrize(
    ("board_id", "data_name", "first_gpio"),
    [
        ("adafruit_esp32s3_camera", "CAMERA_DATA", 13),
        ("espressif_esp32s3_eye", "CAMERA_DATA", 11),
        ("seeed_xiao_esp32_s3_sense", "CAM_DATA", 15),
        ("firebeetle2_esp32s3", "CAM_DATA", 39),
    ],
)
def test_board_pins_follow_board_id(board, board_id, data_name, first_gpio):
    board.boot(board=board_id)
    board_module = board.module("board")
    pin = board.module("microcontroller.pin")
    assert board_module.board_id == board_id
    data = getattr(board_module, data_name)
    assert len(data) == 8 and data[0] is getattr(pin, f"GPIO{first_gpio}")


def test_board_i2c_is_a_singleton_and_claims_its_pins(board):
    board.boot()
    board_module, busio = board.module("board"), board.module("busio")
    bus = board_module.I2C()
    assert board_module.I2C() is bus
    with pytest.raises(RuntimeError, match="requires lock"):
        bus.scan()
    assert bus.try_lock() and not bus.try_lock()
    assert bus.scan() == [0x3C]
    bus.unlock()
    with pytest.raises(ValueError, match="in use"):
        busio.I2C(board_module.SCL, board_module.SDA)
    bus.deinit()
    again = busio.I2C(board_module.SCL, board_module.SDA)
    assert again.try_lock() and again.scan() == [0x3C]


def test_microcontroller_facts(board):
    board.boot(mac=b"\x7c\xdf\xa1\x01\x02\x03")
    mc = board.module("microcontroller")
    assert mc.cpu.frequency == 240_000_000
    assert isinstance(mc.cpu.temperature, float)
    assert mc.cpu.reset_reason is mc.ResetReason.POWER_ON
    assert repr(mc.ResetReason.WATCHDOG) == "ResetReason.WATCHDOG"
    assert bytes(mc.cpu.uid) == b"\x7c\xdf\xa1\x01\x02\x03"
    assert mc.pin.GPIO0 is not None and mc.pin.GPIO48 is not None
    assert not hasattr(mc.pin, "GPIO22")  # the ESP32-S3 has no GPIO22..25
    with pytest.raises(BoardReset) as reset:
        mc.reset()
    assert reset.value.reason == "SOFTWARE"


def test_watchdog_arms_feeds_and_expires(board):
    board.boot()
    mc, watchdog = board.module("microcontroller"), board.module("watchdog")
    wdt = mc.watchdog
    assert wdt.mode is None and not hasattr(wdt, "deinit")
    with pytest.raises(ValueError):
        wdt.mode = watchdog.WatchDogMode.RESET  # timeout first
    wdt.timeout = 0.2
    wdt.mode = watchdog.WatchDogMode.RESET
    assert wdt.mode is watchdog.WatchDogMode.RESET
    time.sleep(0.12)
    wdt.feed()
    time.sleep(0.12)
    assert board.world.watchdog_overdue() is None
    time.sleep(0.1)
    assert board.world.watchdog_overdue() >= 0.2
    wdt.mode = None
    assert board.world.watchdog_overdue() is None
    assert issubclass(watchdog.WatchDogTimeout, Exception)


def test_supervisor_reload_stops_code_at_once(board):
    board.boot()
    supervisor = board.module("supervisor")
    assert supervisor.runtime.run_reason is supervisor.RunReason.STARTUP
    with pytest.raises(SoftReload):
        supervisor.reload()


def test_wifi_radio_joins_the_settings_ap(board):
    (board.tmp_path / "settings.toml").write_text('CIRCUITPY_WIFI_SSID = "net"\nCIRCUITPY_WIFI_PASSWORD = "password"\n')
    board.boot(mac=b"\x7c\xdf\xa1\x01\x02\x03")
    wifi = board.module("wifi")
    radio = wifi.radio
    assert type(radio).__name__ == "Radio"
    assert radio.connected and str(radio.ipv4_address) == "127.0.0.1"
    assert radio.mac_address == b"\x7c\xdf\xa1\x01\x02\x03"
    assert radio.ap_info.ssid == "net" and -70 < radio.ap_info.rssi < -40 and radio.ap_info.channel
    radio.power_management = wifi.PowerManagement.NONE
    assert radio.power_management is wifi.PowerManagement.NONE
    radio.enabled = False
    assert not radio.connected
    with pytest.raises(ConnectionError, match="Authentication"):
        radio.connect("net", "wrongpass", timeout=0.1)
    with pytest.raises(ConnectionError, match="No network"):
        radio.connect("other", "password", timeout=0.1)
    with pytest.raises(ValueError):
        radio.connect("net", "short")
    radio.connect("net", "password")
    assert radio.connected


@pytest.mark.parametrize(("board_id", "mb"), [("adafruit_esp32s3_camera", 2), ("espressif_esp32s3_eye", 8)])
def test_espidf_reports_the_boards_psram_and_camera_buffers(board, board_id, mb):
    """CIRCUITPY_ESP_PSRAM_SIZE of each board's CircuitPython build: the MEMENTO has 2 MB, the others 8 MB."""
    board.boot(board=board_id)
    espidf = board.module("espidf")
    assert espidf.get_total_psram() == mb * 1024 * 1024
    free = espidf.heap_caps_get_free_size()
    assert 0 < espidf.heap_caps_get_largest_free_block() <= free < espidf.heap_caps_get_total_size()
    assert issubclass(espidf.MemoryError, MemoryError) and issubclass(espidf.IDFError, OSError)


def test_micropython_const(board):
    board.boot()
    assert board.module("micropython").const(5) == 5
