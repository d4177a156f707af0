"""The privacy detector's table: texts that must be refused and ordinary texts that must pass."""

from __future__ import annotations

import pytest

from app.privacy.detector import (
    FindingKind,
    PrivateValues,
    address_parts,
    certain,
    id_checksum_ok,
    luhn_ok,
    scan,
)

# (text, the part that must be highlighted)
MUST_REFUSE = [
    ("老人住石牌村东约12号，电饭煲坏了", "石牌村东约12号"),
    ("有事请打 138 0013 8000 联系家属", "138 0013 8000"),
    ("电话13800138000", "13800138000"),
    ("手机：+86 138-0013-8000", "+86 138-0013-8000"),
    ("家属电话 0086 13800138000", "0086 13800138000"),
    ("联系 １３８００１３８０００", "１３８００１３８０００"),
    ("联系１３８－００１３－８０００即可", "１３８－００１３－８０００"),
    ("号码 138.0013.8000", "138.0013.8000"),
    ("固话 020-87654321", "020-87654321"),
    ("可打（020）8765 4321找社工", "020）8765 4321"),
    ("座机0755 8888 6666", "0755 8888 6666"),
    ("请致电 87654321 预约", "87654321"),
    ("身份证440103195001011238已核实", "440103195001011238"),
    ("身份证 4401 0319 5001 0112 38", "4401 0319 5001 0112 38"),
    ("证件号 11010519491231002X", "11010519491231002X"),
    ("证件号 110105 19491231 002x", "110105 19491231 002x"),
    ("银行卡 6222 0202 0000 0000 009 请转账", "6222 0202 0000 0000 009"),
    ("卡号4111111111111111", "4111111111111111"),
    ("车牌粤A12345的司机帮忙运过", "粤A12345"),
    ("家属开粤B·D12345来接", "粤B·D12345"),
    ("住在幸福花园3栋2单元501室", "幸福花园3栋2单元501室"),
    ("地址是中山路88号", "中山路88号"),
    ("家在解放北路100号大院", "解放北路100号"),
    ("老人住阳光大厦1502，行动不便", "阳光大厦1502"),
    ("在和平里5巷7号", "和平里5巷7号"),
    ("东风村三组的老人需要一台轮椅", "东风村三组"),
    ("住在大塘村5组", "大塘村5组"),
    ("房子在8栋", "8栋"),
    ("住在B座1203室", "B座1203室"),
    ("在南华西街12弄", "南华西街12弄"),
    ("住在东约十二号，屋顶漏水", "东约十二号"),
    ("老人独居在金沙洲新村6幢302", "金沙洲新村6幢302"),
    ("地址：广州市天河区龙洞路９号", "龙洞路９号"),
    ("有问题发邮件 chen.family@example.com", "chen.family@example.com"),
    ("加微信 chen_1950 了解", "微信 chen_1950"),
    ("请加QQ 12345678 联系", "QQ 12345678"),
    ("孩子在 育才路 23 号旁边的学校上学", "育才路 23 号"),
    ("住在15号楼", "15号楼"),
    ("家住桥头村2队", "桥头村2队"),
    ("住址石牌东路3-5号", "石牌东路3-5号"),
    ("请打一三八零零一三八零零零", "一三八零零一三八零零零"),
    ("汇款到 6228480402564890018", "6228480402564890018"),
]

MUST_PASS = [
    "老人患糖尿病多年，需要定期测血糖，希望有一台血糖仪。",
    "孩子今年上三年级，书包已经破了，希望有一个新书包。",
    "想要一台美的电饭煲 MB-FB40S701，价格约299元。",
    "需要5号电池20节，给助听器用。",
    "家里的冰箱型号BCD-215WTPZM坏了，维修报价1,200元。",
    "希望在2024-03-15之前送到。",
    "3月12号之前需要完成春耕。",
    "每月15号领取低保金，生活很拮据。",
    "需要大米50斤、食用油2桶。",
    "屋顶漏水，约需维修费用3000元。",
    "老人住在6楼，没有电梯，需要一个助行器。",
    "两室一厅的房子，卫生间需要防滑改造。",
    "需要志愿者10人，每人工作4小时，时间是8:00-12:00。",
    "家中三个孩子，老大读初二，老二读小学五年级。",
    "住院期间在12号床，出院后需要轮椅。",
    "乘坐地铁3号线可到达镇上。",
    "孩子穿38码的鞋，需要一双运动鞋。",
    "去年9月起失业，今年已找到临时工作。",
    "需要电工证的志愿者帮助更换电线，工期2天。",
    "老人82岁，独居，行动不便，需要助行器一个。",
    "秋收时节需要帮忙收割水稻约3亩。",
    "预计花费12,500元，用于更换屋顶瓦片。",
    "孩子的学习桌高度75cm，需要一张新的。",
    "血压计（欧姆龙HEM-7124）一台。",
    "第3单元的课文看不清，需要一台护眼台灯。",
    "慢性肾病每周透析3次，需要营养品。",
    "需要一台32寸电视，让老人看新闻。",
    "家里有4口人，其中2人残疾。",
    "订单号已作废，请忽略。",
    "需要2024年春季学期的学费资助约1500元。",
    "共需要冬被2床、棉衣3件。",
    "老人每天需服药3次，每次2粒。",
    "电动车电池48V 20Ah，约需800元。",
    "手术费用约35,000元，医保报销后自付8,000元。",
    "希望在2024.5.1前完成安装。",
    "需要一把扶手，长度60厘米，安装在卫生间。",
    "孩子考了全班第3名，想要一套字典。",
    "老人听力下降，需要一个助听器（约1,999元）。",
    "排水管老化，需要更换约10米。",
    "家里第二组插座经常跳闸，需要电工检查。",
    "一楼卫生间地面湿滑，需要防滑处理。",
    "村里的老人活动中心需要几把椅子。",
]


@pytest.mark.parametrize(("text", "part"), MUST_REFUSE)
def test_refused_with_the_offending_part(text: str, part: str) -> None:
    found = certain(scan(text))
    assert found, f"not refused: {text}"
    assert any(part in f.excerpt or f.excerpt in part for f in found), (text, found)
    for finding in found:
        assert text[finding.start : finding.end] == finding.excerpt


@pytest.mark.parametrize("text", MUST_PASS)
def test_ordinary_text_passes(text: str) -> None:
    assert certain(scan(text)) == [], text


def test_tables_are_large_enough() -> None:
    assert len(MUST_REFUSE) >= 40
    assert len(MUST_PASS) >= 40


def test_checksums() -> None:
    assert id_checksum_ok("11010519491231002X")
    assert not id_checksum_ok("110105194912310021")
    assert luhn_ok("4111111111111111")
    assert not luhn_ok("4111111111111112")


def test_an_id_with_a_wrong_checksum_is_only_unsure() -> None:
    found = scan("编号 110105194912310021")
    assert [(f.kind, f.certain) for f in found] == [(FindingKind.ID_NUMBER, False)]


def test_the_households_own_values() -> None:
    private = PrivateValues(
        names=["陈桂英", "李小明"],
        numbers=["13912345678", "440103195001011238"],
        address_parts=address_parts("广东省广州市天河区石牌街道石牌村东约12号"),
    )
    assert certain(scan("桂英奶奶腿脚不便", private))
    assert certain(scan("孙子李小明在读初中", private))
    assert certain(scan("石牌村的老人", private))
    # the last digits of a known phone, whatever the spacing
    assert certain(scan("尾号 345 678", private))
    unsure = scan("陈婆婆需要一台电饭煲", private)
    assert unsure and not certain(unsure)
    assert certain(scan("天河区的老人需要一台电饭煲", private)) == []


def test_address_parts_drop_public_levels() -> None:
    parts = address_parts("广东省广州市天河区石牌街道石牌村东约12号")
    assert "石牌村" in parts
    assert not any(p in ("广州市", "天河区", "石牌街道") for p in parts)
