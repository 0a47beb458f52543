"""The shop most model and route tests sell in: one of each person a sale involves, a customer and
a product in stock. The `shop` fixture (tests/conftest.py) builds it; a module that needs other
prices or stock says so with a marker:

    pytestmark = pytest.mark.shop(price=10000, cup_stock=3)

Rows only some tests need (a package, an order) are fixtures of those modules, built on `shop`.
"""
from dataclasses import dataclass

from models.accounts import Department, User
from models.customers import Customer
from models.inventory import Product, Warehouse
from tests.factories import (make_customer, make_department, make_stocked_product, make_user,
                             make_warehouse)


@dataclass
class Shop:
    #: 销售一部, where the marketer and the head work; 销售二部 has only its head.
    department: Department
    other_department: Department
    #: 总仓, holding the product and the cup.
    warehouse: Warehouse
    #: 刘芳 (phone 139 1111 2222), who owns the customer.
    marketer: User
    #: 陈经理, head of 销售一部, and 赵经理, head of 销售二部.
    head: User
    other_head: User
    #: 李总, 周静 (finance), 孙强 (warehouse clerk) and an administrator, in no department.
    manager: User
    finance: User
    clerk: User
    admin: User
    #: 王大爷, the marketer's customer.
    customer: Customer
    #: 灵芝孢子粉 (LZ-001), for sale at `price` fen, cost ¥60, `stock` boxes in batch B1.
    product: Product
    #: 保温杯, a gift redeemable for 300 points, cost ¥15, `cup_stock` in stock.
    cup: Product


def make_shop(*, price=19800, stock=50, cup_stock=10):
    """Build the shop (flushed, never committed)."""
    department, other_department = make_department("销售一部"), make_department("销售二部")
    clerk = make_user(["warehouse"], display_name="孙强")
    warehouse = make_warehouse("总仓", actor=clerk)
    marketer = make_user(["marketer"], display_name="刘芳", department=department,
                         phone="13911112222")
    head = make_user(["dept_head"], display_name="陈经理", department=department)
    other_head = make_user(["dept_head"], display_name="赵经理", department=other_department)
    manager = make_user(["manager"], display_name="李总")
    finance = make_user(["finance"], display_name="周静")
    admin = make_user(["admin"], display_name="管理员")
    customer = make_customer(marketer, name="王大爷")
    product = make_stocked_product(warehouse, stock, actor=clerk, name="灵芝孢子粉", sku="LZ-001",
                                   sale_price=price)
    cup = make_stocked_product(warehouse, cup_stock, actor=clerk, name="保温杯", sku="GF-001",
                               is_gift=True, for_sale=False, redeemable=True, points_price=300,
                               standard_cost=1500)
    return Shop(department=department, other_department=other_department, warehouse=warehouse,
                marketer=marketer, head=head, other_head=other_head, manager=manager,
                finance=finance, clerk=clerk, admin=admin, customer=customer, product=product,
                cup=cup)
