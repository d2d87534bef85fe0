"""Exports are safe to open (SPEC §3): a resident's name is text in every CSV, XLSX and PDF
the product writes, whatever the resident typed — never a formula, a link, an image from
the server's disk, or a reason for the export to fail."""

from __future__ import annotations

import csv
import io
from datetime import date, timedelta

import openpyxl
import pypdf
import pytest
from PIL import Image

from backend.communities.models import Community, Resident, TeamMember, TeamRole
from backend.extensions import db
from backend.points.ledger import account_for, transfer
from backend.points.models import AccountKind, TransferReason
from tests.points_support import signed
from tests.test_checkin_self_and_certificates import approved_service

FORMULAS = ['=HYPERLINK("http://evil.example/x","点此领取")', "+1+1", "-2+3", "@SUM(A1:A9)",
            "＝1+1", "=cmd|' /C calc'!A0"]


def join(make, world, name: str):
    person = make.user()
    response = make.call("POST", f"/api/v1/communities/{world.a}/join", person,
                         json={"real_name": name, "building": "1", "unit": "1", "room": "1"})
    assert response.status_code == 201, response.json  # the input policy lets these in
    return person


def credit(app, world, people) -> None:
    with app.app_context():
        issued = account_for(world.a, AccountKind.ISSUED)
        for person in people:
            transfer(issued, account_for(world.a, AccountKind.RESIDENT, person.id), 5,
                     TransferReason.SERVICE, "attendance:0", f"hostile-{person.id}",
                     **signed())
        db.session.commit()


def csv_rows(response) -> list[list[str]]:
    return list(csv.reader(io.StringIO(response.data.decode("utf-8-sig"))))


def xlsx_cells(response) -> list:
    # Not data_only: a formula cell would show as data_type "f".
    sheet = openpyxl.load_workbook(io.BytesIO(response.data)).active
    return [cell for row in sheet.iter_rows() for cell in row]


def assert_names_are_text(csv_response, xlsx_response, names: list[str]) -> None:
    assert csv_response.status_code == xlsx_response.status_code == 200
    in_csv = {value for row in csv_rows(csv_response) for value in row}
    assert {"'" + name for name in names} <= in_csv  # quoted, as OWASP advises
    cells = xlsx_cells(xlsx_response)
    assert [cell.coordinate for cell in cells if cell.data_type == "f"] == []
    by_value = {cell.value: cell for cell in cells}
    for name in names:
        assert by_value[name].data_type == "s" and by_value[name].quotePrefix


def test_formula_names_stay_text_in_the_ledger_exports(app, make, world):
    people = [join(make, world, name) for name in FORMULAS]
    credit(app, world, people)
    path = f"/api/v1/communities/{world.a}/points/ledger"
    assert_names_are_text(make.call("GET", f"{path}.csv", world.staff_a),
                          make.call("GET", f"{path}.xlsx", world.staff_a), FORMULAS)


def parking_members(app, make, world, names: list[str]) -> int:
    from backend.communities.models import TeamCategory

    team = make.team(world.a, TeamCategory.PARKING)
    for name in names:
        make._save(TeamMember(team_id=team, user_id=join(make, world, name).id,
                              role=TeamRole.MEMBER))
    return team


def subsidies(make, world, team: int, extension: str):
    return make.call("GET", f"/api/v1/teams/{team}/subsidies.{extension}",
                     world.staff_a, query_string={"month": date.today().strftime("%Y-%m")})


def test_formula_names_stay_text_in_the_subsidy_exports(app, make, world):
    team = parking_members(app, make, world, FORMULAS)
    assert_names_are_text(subsidies(make, world, team, "csv"),
                          subsidies(make, world, team, "xlsx"), FORMULAS)


def test_a_control_character_in_a_stored_name_does_not_break_the_workbooks(app, make,
                                                                            world):
    """The input policy refuses it now; a name stored before still exports."""
    assert make.call("POST", f"/api/v1/communities/{world.a}/join", make.user(), json={
        "real_name": "张\u0007三", "building": "1", "unit": "1",
        "room": "1"}).status_code == 422
    team = parking_members(app, make, world, ["张三"])
    person = make.resident(world.a, "李\u0007四\x1b")
    make._save(TeamMember(team_id=team, user_id=person.id, role=TeamRole.MEMBER))
    credit(app, world, [person])
    for response in (subsidies(make, world, team, "xlsx"), make.call(
            "GET", f"/api/v1/communities/{world.a}/points/ledger.xlsx", world.staff_a)):
        assert response.status_code == 200
        assert "李四" in [cell.value for cell in xlsx_cells(response)]
    assert "李四" in {v for row in csv_rows(subsidies(make, world, team, "csv")) for v in row}


@pytest.fixture
def server_image(tmp_path_factory):
    path = tmp_path_factory.mktemp("s") / "secret.png"
    Image.new("RGB", (40, 40), "red").save(path)
    return path


def test_a_certificate_prints_a_markup_name_as_text(app, make, world, server_image):
    name = '<a href="http://evil.example">张三</a>&amp;'
    with app.app_context():
        db.session.query(Resident).filter_by(user_id=world.resident_a.id).one().real_name = name
        community = db.session.get(Community, world.a)
        community.name = f'<img src="{server_image}"/>'
        community.street = '<font color="red">街</font><img src="/etc/hostname"/>'
        db.session.commit()
    approved_service(app, make, world)
    certificate = make.call("POST", f"/api/v1/communities/{world.a}/certificates",
                            world.staff_a, json={"user_id": world.resident_a.id}).json
    pdf = make.call("GET", f"/api/v1/certificates/{certificate['id']}.pdf", world.resident_a)
    assert pdf.status_code == 200
    reader = pypdf.PdfReader(io.BytesIO(pdf.data))
    text = "".join(page.extract_text() for page in reader.pages)
    assert '<a href="http://evil.example">张三</a>&amp;' in text  # the characters, printed
    assert '<img src="/etc/hostname"/>' in text
    links = [annotation.get_object() for page in reader.pages
             for annotation in page.get("/Annots") or []]
    assert [a for a in links if a.get("/Subtype") == "/Link"] == []
    assert sum(len(page.images) for page in reader.pages) == 1  # the QR code, nothing else


def test_the_public_check_shows_what_a_verifier_needs_and_nothing_else(app, make, world):
    approved_service(app, make, world)
    certificate = make.call("POST", f"/api/v1/communities/{world.a}/certificates",
                            world.staff_a, json={"user_id": world.resident_a.id}).json
    code = certificate["verification_code"]
    answer = make.call("GET", f"/api/v1/certificates/verify/{code.lower().replace('-', '')}")
    assert answer.status_code == 200
    body = answer.json
    assert body["valid"] is True and body["verification_code"] == code
    content = body["content"]
    assert set(content) == {"title", "volunteer_masked", "community", "street", "period",
                            "total_minutes", "total_hours", "issued_at", "items"}
    assert content["volunteer_masked"] == "张*明" and content["total_minutes"] == 120
    assert [set(item) for item in content["items"]] == [{"date", "minutes", "hours"}]
    private = certificate["content"]
    shown = answer.get_data(as_text=True)
    for secret in (private["volunteer"], private["issued_by"], private["items"][0]["approver"]):
        assert secret not in shown
    assert "attendance_id" not in shown and "points" not in shown


@pytest.mark.parametrize("code", ["AB%00CD", "ABCD-EFGH-JKMN-PQR%00", "%F0%9F%92%A9" * 4,
                                  "A" * 40, "..%2F..%2Fetc"])
def test_a_malformed_verification_code_is_a_404_envelope(client, code):
    response = client.get(f"/api/v1/certificates/verify/{code}")
    assert response.status_code == 404 and response.json["error"]["code"] == "not_found"


def test_the_ledger_and_reconciliation_default_to_the_current_month(app, make, world):
    credit(app, world, [world.resident_a])
    report = make.call("GET", f"/api/v1/communities/{world.a}/points/reconciliation",
                       world.staff_a)
    assert report.status_code == 200 and report.json["issued"] == 5
    ledger = make.call("GET", f"/api/v1/communities/{world.a}/points/ledger.csv",
                       world.staff_a)
    assert ledger.status_code == 200 and len(csv_rows(ledger)) == 2
    first = date.today().replace(day=1)
    assert first.strftime("%Y%m%d") in ledger.headers["Content-Disposition"]
    last_month = (first - timedelta(days=1)).replace(day=1)
    earlier = make.call("GET", f"/api/v1/communities/{world.a}/points/reconciliation",
                        world.staff_a, query_string={"to": str(first - timedelta(days=1))})
    assert earlier.status_code == 200 and earlier.json["issued"] == 0
    assert make.call("GET", f"/api/v1/communities/{world.a}/points/ledger.csv", world.staff_a,
                     query_string={"from": str(last_month)}).status_code == 200


@pytest.mark.parametrize("query", [{}, {"from": "not-a-date"}, {"from": "9999-01-01"}])
def test_a_resident_is_refused_a_staff_report_before_its_query_is_read(make, world, query):
    response = make.call("GET", f"/api/v1/communities/{world.a}/points/reconciliation",
                         world.resident_a, query_string=query)
    assert response.status_code == 403 and response.json["error"]["code"] == "forbidden"
    bad_body = make.call("POST", f"/api/v1/communities/{world.a}/gifts", world.resident_a,
                         json={"name": ""})
    assert bad_body.status_code == 403
