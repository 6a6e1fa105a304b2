"""Pin maps of the ESP32-S3 camera boards CircuitPython defines (from their `board` definitions)."""

from __future__ import annotations

from dataclasses import dataclass

DEFAULT_BOARD = "adafruit_esp32s3_camera"
MB = 1024 * 1024


@dataclass(frozen=True)
class BoardDef:
    """One board: its `board` pin names and how the camera is wired to GPIOs."""

    pins: dict[str, int]
    data_name: str  # `board.CAMERA_DATA` or `board.CAM_DATA`
    data: tuple[int, ...]  # D0..D7, least significant bit first
    vsync: int
    href: int
    pclk: int
    xclk: int
    camera_sda: int
    camera_scl: int
    axp313a: bool = False  # the camera rails come from an AXP313A power chip on the camera's I2C bus
    psram: int = 8 * MB  # CIRCUITPY_ESP_PSRAM_SIZE of the board's CircuitPython build (mpconfigboard.mk)


def _pins(spec: str) -> dict[str, int]:
    return {name: int(gpio) for name, gpio in (item.split("=") for item in spec.split())}


_SENSEBOX_EYE = BoardDef(
    _pins(
        "BUTTON=0 BOOT0=0 BUTTON_SW=21 SDA=2 SCL=1 D1=1 D2=2 A14=14 D14=14 A48=48 D48=48 LED=45"
        " NEOPIXEL=45 TX=43 RX=44 UART_ENABLE=26 CAM_D0=11 CAM_D1=9 CAM_D2=8 CAM_D3=10 CAM_D4=12"
        " CAM_D5=18 CAM_D6=17 CAM_D7=16 CAM_XCLK=15 CAM_HREF=7 CAM_PCLK=13 CAM_VSYNC=6 CAM_SCL=5"
        " CAM_SDA=4 PWDN=46 SD_CS=41 SD_MOSI=38 SD_SCLK=39 SD_MISO=40 SD_ENABLE=3"
    ),
    "CAM_DATA",
    (11, 9, 8, 10, 12, 18, 17, 16),
    vsync=6,
    href=7,
    pclk=13,
    xclk=15,
    camera_sda=4,
    camera_scl=5,
)

BOARDS: dict[str, BoardDef] = {
    "adafruit_esp32s3_camera": BoardDef(
        _pins(
            "MOSI=35 SCK=36 MISO=37 TFT_RESET=38 TFT_CS=39 TFT_DC=40 TFT_BACKLIGHT=45 CARD_CS=48 MIC=2 IRQ=3"
            " NEOPIXEL=1 SPEAKER=46 BUTTON=0 BATTERY_MONITOR=4 A0=17 A1=18 SDA=34 SCL=33 CAMERA_VSYNC=5"
            " CAMERA_HREF=6 CAMERA_DATA9=7 CAMERA_XCLK=8 CAMERA_DATA8=9 CAMERA_DATA7=10 CAMERA_PCLK=11"
            " CAMERA_DATA6=12 CAMERA_DATA2=13 CAMERA_DATA5=14 CAMERA_DATA3=15 CAMERA_DATA4=16 CAMERA_RESET=47"
            " CAMERA_PWDN=21"
        ),
        "CAMERA_DATA",
        (13, 15, 16, 14, 12, 10, 9, 7),
        vsync=5,
        href=6,
        pclk=11,
        xclk=8,
        camera_sda=34,
        camera_scl=33,
        psram=2 * MB,  # the MEMENTO's ESP32-S3 module has 2 MB (4 MB flash)
    ),
    "espressif_esp32s3_eye": BoardDef(
        _pins(
            "BOOT=0 BUTTONS=1 MIC_SDO=2 IO3=3 SDA=4 SCL=5 CAMERA_VSYNC=6 CAMERA_HREF=7 CAMERA_PCLK=13"
            " BATTERY=14 CAMERA_XCLK=15 MOSI=47 SCK=21 MISO1=40 MOSI1=38 SCK1=39 MIC_SCK=41 MIC_WS=42"
            " LCD_DC=43 LCD_CS=44 BACKLIGHT=48"
        ),
        "CAMERA_DATA",
        (11, 9, 8, 10, 12, 18, 17, 16),
        vsync=6,
        href=7,
        pclk=13,
        xclk=15,
        camera_sda=4,
        camera_scl=5,
    ),
    "seeed_xiao_esp32_s3_sense": BoardDef(
        _pins(
            "A0=1 A1=2 A2=3 A3=4 A4=5 A5=6 D0=1 D1=2 D2=3 D3=4 D4=5 D5=6 D6=43 D7=44 D8=7 D9=8 D10=9 LED=21"
            " SDA=5 SCL=6 TX=43 RX=44 MOSI=9 MISO=8 SCK=7 SDCS=21 CAM_D0=15 CAM_D1=17 CAM_D2=18 CAM_D3=16"
            " CAM_D4=14 CAM_D5=12 CAM_D6=11 CAM_D7=48 CAM_XCLK=10 CAM_HREF=47 CAM_PCLK=13 CAM_VSYNC=38"
            " CAM_SCL=39 CAM_SDA=40 MIC_DATA=41 MIC_CLK=42"
        ),
        "CAM_DATA",
        (15, 17, 18, 16, 14, 12, 11, 48),
        vsync=38,
        href=47,
        pclk=13,
        xclk=10,
        camera_sda=40,
        camera_scl=39,
    ),
    # senseBox MCU-S2 ESP32-S3 eye: its board_id on CircuitPython 10.0-10.2, and from 10.3 on.
    "sensebox_eye_esp32s3": _SENSEBOX_EYE,
    "sensebox_mcu_eye_esp32s3": _SENSEBOX_EYE,
    "prokyber_ai_on_the_edge_cam": BoardDef(
        _pins(
            "IO0=0 IO2=2 IO46=46 PER_EN=46 SD_CS=3 IO3=3 SD_MISO=41 IO41=41 SD_MOSI=42 IO42=42 SD_CLK=40"
            " IO40=40 ETH_RST=45 IO45=45 ETH_INT=38 IO38=38 ETH_MOSI=1 IO1=1 ETH_MISO=14 IO14=14 ETH_CLK=21"
            " IO21=21 ETH_CS=39 IO39=39 NEOPIXEL=12 IO12=12 LED=48 IO48=48 TX=43 IO43=43 RX=44 IO44=44 SDA=4"
            " SCL=5 CAMERA_VSYNC=6 CAMERA_HREF=7 CAMERA_DATA9=16 CAMERA_XCLK=15 CAMERA_DATA8=17"
            " CAMERA_DATA7=18 CAMERA_PCLK=13 CAMERA_DATA6=47 CAMERA_DATA2=11 CAMERA_DATA5=10 CAMERA_DATA3=9"
            " CAMERA_DATA4=8 CAMERA_SIOD=4 CAMERA_SIOC=5"
        ),
        "CAMERA_DATA",
        (11, 9, 8, 10, 47, 18, 17, 16),
        vsync=6,
        href=7,
        pclk=13,
        xclk=15,
        camera_sda=4,
        camera_scl=5,
    ),
    "firebeetle2_esp32s3": BoardDef(
        _pins(
            "IO17=17 SCK=17 IO15=15 MOSI=15 IO16=16 MISO=16 IO2=2 SCL=2 IO1=1 SDA=1 IO0=0 D9=0 BOOT=0 IO9=9"
            " D7=9 IO18=18 D6=18 IO7=7 D5=7 IO38=38 D3=38 IO3=3 D2=3 IO43=43 TXD=43 IO44=44 RXD=44 IO47=47"
            " D14=47 PWR=47 IO11=11 D11=11 IO10=10 A4=10 IO8=8 A3=8 IO6=6 A2=6 IO5=5 A1=5 IO4=4 A0=4 IO21=21"
            " D13=21 LED=21 IO12=12 D12=12 IO13=13 IO14=14 D10=14 CAM_VSYNC=6 CAM_HREF=42 CAM_PCLK=5"
            " CAM_XCLK=45"
        ),
        "CAM_DATA",
        (39, 40, 41, 4, 7, 8, 46, 48),
        vsync=6,
        href=42,
        pclk=5,
        xclk=45,
        camera_sda=1,
        camera_scl=2,
        axp313a=True,
    ),
}
