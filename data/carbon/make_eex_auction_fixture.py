#!/usr/bin/env python3
"""Writes eex_primary_market_auction_2025-02_sample.xlsx, a HAND-WRITTEN sample of EEX's
yearly primary-market auction report (emission-spot-primary-market-auction-report-<year>-data.xlsx).

The layout (one sheet "Primary Market Auction", 1900 date system, dimension B2:BI<n>, banner
rows 2-5, the header in row 6 from column B with 25 result columns and 35 beneficiary revenue
columns, data from row 7, Date cells styled dd.mm.yyyy and Time cells hh:mm, a HYPERLINK
formula in D3 without a cached value) follows the description of the real 2026 report in
third-party code that validates it (see data/carbon/README.md). The auction prices and
statistics are plausible values, NOT the published ones.

    python3 data/carbon/make_eex_auction_fixture.py   # from the repository root
"""
import os
import zipfile
from xml.sax.saxutils import escape

HERE = os.path.dirname(os.path.abspath(__file__))
OUT = os.path.join(HERE, "eex_primary_market_auction_2025-02_sample.xlsx")
INFO = "https://www.eex.com/en/markets/environmental-markets/emissions-auctions"
HEADERS = ["Date", "Time", "Auction Name", "Contract", "Status", "Auction Price €/tCO2",
           "Minimum Bid €/tCO2", "Maximum Bid €/tCO2", "Mean €/tCO2", "Median €/tCO2",
           "Auction Volume tCO2", "Total Amount of Bids", "Number of bids submitted",
           "Number of successful bids", "Average number of bids per bidder", "Average bid size",
           "Average volume bid per bidder", "Standard deviation of bid volume per bidder",
           "Average volume won per bidder", "Standard deviation of volume won per bidder",
           "Cover Ratio", "Total Number of Bidders", "Number of Successful Bidders",
           "Total Revenue €", "Zone"]
BENEFICIARIES = ["Austria\n(AT)", "Belgium\n(BE)", "Bulgaria\n(BG)", "Cyprus\n(CY)",
                 "Czech Republic\n(CZ)", "Germany\n(DE)", "Denmark\n(DK)", "Estonia\n(EE)",
                 "Greece\n(EL)", "Spain\n(ES)", "Finland\n(FI)", "France\n(FR)", "Croatia\n(HR)",
                 "Hungary\n(HU)", "Ireland\n(IE)", "Innovation Fund\n(IF)", "Iceland\n(IS)",
                 "Italy\n(IT)", "InnoFund RRF\n(IX)", "Liechtenstein\n(LI)", "Lithuania\n(LT)",
                 "Luxembourg\n(LU)", "Latvia\n(LV)", "Modernisation Fund\n(MF)", "Malta\n(MT)",
                 "MS RRF\n(MX)", "Netherlands\n(NL)", "Norway\n(NO)", "Poland\n(PL)",
                 "Portugal\n(PT)", "Romania\n(RO)", "Sweden\n(SE)", "Social Climate Fund\n(SF)",
                 "Slovenia\n(SI)", "Slovakia\n(SK)"]

# (serial date, auction name, contract, price text, min, max, mean, median, volume,
#  bids volume, bids, successful bids, bidders, successful bidders, zone, beneficiary)
# Serial 45712 is 2025-02-24. Prices are plausible, not published values; one is written
# with a binary-float tail the way some writers store 69.45.
AUCTIONS = [
    (45712, "Auction CAP3 EU", "T3PA", "71.2", "65.00", "73.50", "70.86", "71.05", 3245500, 5102000, 74, 41, 20, 15, "EU", None),
    (45713, "Auction CAP3 EU", "T3PA", "69.450000000000003", "60.00", "71.40", "69.21", "69.40", 3245500, 4655500, 69, 44, 19, 16, "EU", None),
    (45714, "Auction PL", "T3PA", "68.85", "62.00", "70.10", "68.47", "68.80", 2072500, 3421000, 51, 30, 16, 12, "PL", "Poland\n(PL)"),
    (45714, "EUAA Auction", "EAA3", "68.7", "64.00", "69.90", "68.52", "68.70", 1071000, 1937500, 28, 17, 11, 8, "EU", None),
    (45715, "Auction CAP3 EU", "T3PA", "69.6", "63.50", "71.00", "69.33", "69.55", 3245500, 5490500, 77, 40, 21, 15, "EU", None),
    (45716, "Auction DE", "T3PA", "69.05", "61.00", "70.80", "68.92", "69.00", 1607000, 2881000, 46, 27, 17, 12, "DE", "Germany\n(DE)"),
]
# The common EU auction's revenue goes to several beneficiaries; a few shares suffice here.
EU_SHARES = {"Austria\n(AT)": 0.025, "Belgium\n(BE)": 0.035, "France\n(FR)": 0.115,
             "Italy\n(IT)": 0.14, "Spain\n(ES)": 0.1, "Netherlands\n(NL)": 0.055,
             "Innovation Fund\n(IF)": 0.12, "Modernisation Fund\n(MF)": 0.11}


def column(index):  # 1-based
    name = ""
    while index:
        index, remainder = divmod(index - 1, 26)
        name = chr(65 + remainder) + name
    return name


strings = []


def shared(text):
    if text not in strings:
        strings.append(text)
    return strings.index(text)


def text_cell(ref, text):
    return f'<c r="{ref}" t="s"><v>{shared(text)}</v></c>'


def number_cell(ref, value, style=None):
    s = f' s="{style}"' if style is not None else ""
    return f'<c r="{ref}"{s}><v>{value}</v></c>'


rows = []
rows.append('<row r="2" spans="2:61">' + text_cell("D2", "Public") + "</row>")
rows.append('<row r="3" spans="2:61">' + text_cell("B3", "More information")
            + f'<c r="D3" t="str"><f>HYPERLINK("{INFO}","{INFO}")</f></c></row>')
rows.append('<row r="4" spans="2:61">'
            + text_cell("L4", "EEX Emissions market / Primary Market Auction") + "</row>")
rows.append('<row r="5" spans="2:61">' + "".join(
    text_cell(ref, text) for ref, text in [("B5", "References"), ("G5", "Prices"),
                                           ("L5", "Volumes"), ("W5", "Participants"),
                                           ("Y5", "Revenue"), ("AA5", "Revenue")]) + "</row>")
header = "".join(text_cell(f"{column(i + 2)}6", name)
                 for i, name in enumerate(HEADERS + BENEFICIARIES))
rows.append(f'<row r="6" spans="2:61">{header}</row>')
for n, (serial, name, contract, price, low, high, mean, median, volume, bid_volume, bids,
        won, bidders, winners, zone, beneficiary) in enumerate(AUCTIONS):
    r = 7 + n
    price_value = float(price)
    revenue = round(price_value * volume, 2)
    values = {
        "Date": number_cell(f"B{r}", serial, 1),
        "Time": number_cell(f"C{r}", f"{serial}.375", 2),
        "Auction Name": text_cell(f"D{r}", name),
        "Contract": text_cell(f"E{r}", contract),
        "Status": text_cell(f"F{r}", "successful"),
    }
    numbers = [price, low, high, mean, median, volume, bid_volume, bids, won,
               round(bids / bidders, 2), round(bid_volume / bids), round(bid_volume / bidders),
               round(bid_volume / bidders * 0.61), round(volume / winners),
               round(volume / winners * 0.74), round(bid_volume / volume, 2), bidders, winners,
               f"{revenue:.2f}"]
    cells = "".join(values.values())
    cells += "".join(number_cell(f"{column(7 + i)}{r}", value) for i, value in enumerate(numbers))
    cells += text_cell(f"Z{r}", zone)
    for i, who in enumerate(BENEFICIARIES):
        ref = f"{column(27 + i)}{r}"
        if beneficiary == who:
            cells += number_cell(ref, f"{revenue:.2f}")
        elif beneficiary is None and contract == "T3PA" and who in EU_SHARES:
            cells += number_cell(ref, f"{revenue * EU_SHARES[who]:.2f}")
    rows.append(f'<row r="{r}" spans="2:61">{cells}</row>')
last = 6 + len(AUCTIONS)

NS = "http://schemas.openxmlformats.org/spreadsheetml/2006/main"
REL = "http://schemas.openxmlformats.org/officeDocument/2006/relationships"
DECL = '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\r\n'
sheet = (DECL + f'<worksheet xmlns="{NS}" xmlns:r="{REL}"><dimension ref="B2:BI{last}"/>'
         '<sheetViews><sheetView tabSelected="1" workbookViewId="0"><pane ySplit="6" '
         'topLeftCell="A7" activePane="bottomLeft" state="frozen"/></sheetView></sheetViews>'
         '<sheetFormatPr defaultRowHeight="15"/><sheetData>' + "".join(rows)
         + '</sheetData><pageMargins left="0.7" right="0.7" top="0.75" bottom="0.75" '
         'header="0.3" footer="0.3"/></worksheet>')
sst = (DECL + f'<sst xmlns="{NS}" count="{len(strings)}" uniqueCount="{len(strings)}">'
       + "".join(f'<si><t xml:space="preserve">{escape(s)}</t></si>' if "\n" in s
                 else f"<si><t>{escape(s)}</t></si>" for s in strings) + "</sst>")
styles = (DECL + f'<styleSheet xmlns="{NS}"><numFmts count="2">'
          '<numFmt numFmtId="164" formatCode="dd.mm.yyyy"/>'
          '<numFmt numFmtId="165" formatCode="hh:mm"/></numFmts>'
          '<fonts count="1"><font><sz val="11"/><name val="Calibri"/></font></fonts>'
          '<fills count="2"><fill><patternFill patternType="none"/></fill>'
          '<fill><patternFill patternType="gray125"/></fill></fills>'
          '<borders count="1"><border><left/><right/><top/><bottom/><diagonal/></border></borders>'
          '<cellStyleXfs count="1"><xf numFmtId="0" fontId="0" fillId="0" borderId="0"/></cellStyleXfs>'
          '<cellXfs count="3"><xf numFmtId="0" fontId="0" fillId="0" borderId="0" xfId="0"/>'
          '<xf numFmtId="164" fontId="0" fillId="0" borderId="0" xfId="0" applyNumberFormat="1"/>'
          '<xf numFmtId="165" fontId="0" fillId="0" borderId="0" xfId="0" applyNumberFormat="1"/>'
          '</cellXfs></styleSheet>')
workbook = (DECL + f'<workbook xmlns="{NS}" xmlns:r="{REL}"><workbookPr date1904="false"/>'
            '<sheets><sheet name="Primary Market Auction" sheetId="1" r:id="rId1"/></sheets>'
            '</workbook>')
workbook_rels = (DECL + '<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">'
                 f'<Relationship Id="rId1" Type="{REL}/worksheet" Target="worksheets/sheet1.xml"/>'
                 f'<Relationship Id="rId2" Type="{REL}/styles" Target="styles.xml"/>'
                 f'<Relationship Id="rId3" Type="{REL}/sharedStrings" Target="sharedStrings.xml"/>'
                 '</Relationships>')
root_rels = (DECL + '<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">'
             f'<Relationship Id="rId1" Type="{REL}/officeDocument" Target="xl/workbook.xml"/>'
             '</Relationships>')
ML = "application/vnd.openxmlformats-officedocument.spreadsheetml"
content_types = (DECL + '<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">'
                 '<Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/>'
                 '<Default Extension="xml" ContentType="application/xml"/>'
                 f'<Override PartName="/xl/workbook.xml" ContentType="{ML}.sheet.main+xml"/>'
                 f'<Override PartName="/xl/worksheets/sheet1.xml" ContentType="{ML}.worksheet+xml"/>'
                 f'<Override PartName="/xl/styles.xml" ContentType="{ML}.styles+xml"/>'
                 f'<Override PartName="/xl/sharedStrings.xml" ContentType="{ML}.sharedStrings+xml"/>'
                 '</Types>')

with zipfile.ZipFile(OUT, "w", zipfile.ZIP_DEFLATED) as archive:
    for name, text in [("[Content_Types].xml", content_types), ("_rels/.rels", root_rels),
                       ("xl/workbook.xml", workbook), ("xl/_rels/workbook.xml.rels", workbook_rels),
                       ("xl/styles.xml", styles), ("xl/sharedStrings.xml", sst),
                       ("xl/worksheets/sheet1.xml", sheet)]:
        info = zipfile.ZipInfo(name, date_time=(2025, 3, 3, 8, 0, 0))
        info.compress_type = zipfile.ZIP_DEFLATED
        archive.writestr(info, text.encode("utf-8"))
print(OUT, os.path.getsize(OUT), "bytes")
