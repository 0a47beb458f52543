"""The operation guide (帮助): per role, the five things that role does every day, step by step.

A Chinese document (seed 004: 应编制明确的系统操作指南), kept here as data: the guide pages,
the printed quick-start cards and the browser test that takes the screenshots all read it.
Each task names the screen's heading as the app shows it (`screen`) and where its screenshot
is taken (`path`), so the browser test proves the guide still matches the app.
"""
from dataclasses import dataclass, field


@dataclass(frozen=True)
class Task:
    number: int
    title: str
    #: The heading (h1) of the screen the task is done on, as the app shows it.
    screen: str
    #: Where its screenshot is taken (ids from the demo company filled in by the test).
    path: str
    #: The steps; what is typed as it is stands between backticks (`zxl`).
    steps: tuple
    #: The pages whose 帮助 link opens this task.
    endpoints: tuple = ()
    tip: str = ""
    #: Typed into the door's search box before the screenshot.
    search: str = ""

    @property
    def anchor(self):
        return f"task-{self.number}"

    @property
    def image(self):
        return f"{self.number}.png"


@dataclass(frozen=True)
class RoleGuide:
    role: str
    intro: str
    tasks: tuple
    #: Blueprints whose other pages fall back to this guide (its first page).
    areas: tuple = field(default=())


GUIDES = {}


def _guide(guide):
    GUIDES[guide.role] = guide


_guide(RoleGuide("marketer", "每天从“今日任务”开始：先回访，再邀约；会上开单，会后催收。", (
    Task(1, "看今日任务，打电话回访", "今日任务", "/tasks/", (
        "点顶部菜单“今日任务”。系统每晚把该回访、该关怀、该催款的顾客排好。",
        "先处理“已逾期”，再处理“今天到期”；“即将到期”可以提前做。",
        "点卡片右侧的“拨打”，号码显示出来后直接拨打。",
        "打完点“完成…”，点一句现成的备注（也可以自己写），记录自动写进顾客的时间线。",
        "联系不上就点“跳过”并写明原因。",
    ), ("tasks.today", "tasks.done_form", "tasks.birthdays"),
        tip="“生日关怀名单”按农历、公历列出近期过生日的顾客，可以打印。"),
    Task(2, "找顾客、记跟进", "顾客", "/customers/?q=zxl", (
        "点“顾客”，在“搜索”框输入姓名、拼音首字母（如 `zxl`）或手机尾号，点“搜索”。",
        "点顾客姓名，打开顾客页：上面是资料和等级，下面是所有往来记录。",
        "在“记录跟进”里写下这次沟通的内容，点“保存跟进”。",
        "资料有变化（地址、健康备注、家属联系人）时点“编辑”修改。",
    ), ("customers.index", "customers.show", "customers.edit", "customers.new",
        "customers.pool", "customers.import_upload"),
        tip="新顾客点“新建顾客”；手机号重复时系统会提示，不会建出两个档案。"),
    Task(3, "邀约顾客参会", "邀约名单", "/events/{event}/invitations", (
        "在顾客页点“邀约参会”，选场次；或在顾客列表勾选多人，点“邀约所选顾客”。",
        "点“会议”→ 场次 →“邀约名单”，看自己邀约的人。",
        "电话确认后点“确认”，填上同行人数；不来的点“拒绝”。",
        "点“邀请函”打印带二维码的邀请函，签到时一扫即到。",
    ), ("events.index", "events.show", "events.invitations")),
    Task(4, "会上开单、收定金", "开单", "/orders/new/{customer}", (
        "在顾客页点“开单”。",
        "选“会议”，点一下套餐（大单 / 小单）即加一套，或逐个加商品；留在公司的勾“寄存”。",
        "填“现收金额（元）”、“付款方式”和“交易流水号”，点“确认开单”。",
        "大额订单或超出折扣权限的价格，要主管或领导确认后才生效，按页面提示办理。",
    ), ("orders.new", "orders.show", "orders.index", "orders.packages"),
        tip="开单后可以打印收据和“客户订单摘要（大字版）”交给顾客。"),
    Task(5, "查欠款、催补款", "欠款", "/orders/arrears", (
        "点“订单”→“欠款”，看自己名下每一笔欠款和账龄。",
        "先联系快到期和已逾期的顾客；系统也会把催款写进今日任务。",
        "顾客补款时打开订单，在“收款”里填金额和付款方式，点“确认收款”。",
    ), ("orders.arrears",)),
), areas=("customers", "tasks", "orders", "events", "points", "custody", "reports")))

_guide(RoleGuide("event_staff", "会议当天在门口用平板签到、登记临时到场、发到场礼、安排座位。", (
    Task(1, "打开当天会议的签到屏", "签到", "/checkin/", (
        "点顶部菜单“签到”。",
        "列表里是今天开放签到、由你负责的会议，点会议名称打开签到屏。",
        "签到屏会把宾客名单存在平板上：网络断了也能继续签到，恢复后自动上传。",
    ), ("checkin.index",)),
    Task(2, "扫码或搜索签到", "签到", "/checkin/{event}", (
        "扫码枪对准邀请函上的二维码，顾客即自动签到，屏幕显示桌号。",
        "没带邀请函：在大输入框里输入手机尾号、姓名或拼音首字母（如 `zsz`）。",
        "点顾客卡片上的“签到”，填同行人数。",
        "签到后卡片上出现“发放到场礼”，点一下即发放。",
    ), ("checkin.screen", "checkin.conflicts"), search="zsz",
        tip="右侧“待发送”显示还没传到服务器的签到；“签到冲突”需要会务主管处理。"),
    Task(3, "登记临时到场的顾客", "临时到场", "/checkin/{event}/walk-in", (
        "搜索不到时点“临时到场”（搜索内容会自动带过来）。",
        "先填手机号：老顾客会被认出来，一点即可签到。",
        "新顾客再填姓名、由谁带来，点“登记并签到”。",
    ), ("checkin.walk_in",)),
    Task(4, "在发放台发到场礼", "赠品发放台", "/gifts/events/{event}/desk", (
        "打开会议的“赠品发放台”。",
        "“到场未领”的顾客排在最前面，点“发放”即可，库存自动扣减。",
        "两台平板同时发同一位顾客，只算一份。",
    ), ("gifts.desk",)),
    Task(5, "查看会场座位", "会场座位", "/checkin/{event}/room", (
        "在签到屏点“会场座位”，按桌查看计划人数和已到人数。",
        "需要换桌：点“座位安排”，先点顾客，再点目标桌。",
        "“实时看板”可以投到大屏上，显示到场情况。",
    ), ("checkin.room", "checkin.live_board", "events.seating")),
), areas=("checkin", "events", "gifts", "points", "custody")))

_guide(RoleGuide("warehouse", "每一次进出库都开单据：入库、发赠品、寄存领取都在系统里做，账实自然相符。", (
    Task(1, "到货入库", "入库", "/inventory/documents/new/receipt", (
        "点“库存”→“入库”。",
        "选仓库，填供应商；每个商品一行：批号、生产日期、数量、单价，不够点“加一行”。",
        "点“保存”，打印入库单请送货人签字。",
    ), ("inventory.new_document", "inventory.documents", "inventory.document"),
        tip="录错了不要改，打开入库单点“冲销”，再重新入库。"),
    Task(2, "查看现有库存", "现有库存", "/inventory/", (
        "点“库存”，按仓库、批次查看在库数量和成本金额。",
        "点“按商品：可售数量”：已答应给寄存顾客的部分不能再卖。",
        "“低库存”“寄存缺口”列出需要补货的商品。",
    ), ("inventory.index", "inventory.products", "inventory.product", "inventory.moves",
        "inventory.low_stock", "inventory.shortfalls", "inventory.warehouses")),
    Task(3, "会上发放赠品", "赠品发放台", "/gifts/events/{event}/desk", (
        "点“赠品”，打开当天会议的“发放台”。",
        "“到场未领”的顾客在最前面，点“发放”，库存自动扣减。",
        "发错了在发放记录里“冲销”，赠品退回库存。",
    ), ("gifts.desk", "gifts.index", "gifts.event")),
    Task(4, "顾客领取寄存商品", "寄存", "/custody/customers/{customer}", (
        "点“寄存”，搜索顾客，打开其寄存页。",
        "填本次领取的数量；只能领已付款的部分（“全部可领”一键填满）。",
        "点“交付并打印领货单”，请顾客签字。",
    ), ("custody.index", "custody.customer", "custody.pickup", "custody.expiring")),
    Task(5, "效期检查与盘点", "效期", "/inventory/expiry", (
        "每周打开“库存”→“效期”，临期商品先发出；过期的只能报损或退回。",
        "月底点“盘点”→“开始盘点”，按货架录入实盘数量。",
        "核对差异后过账，差异自动记为盘点调整。",
    ), ("inventory.expiry", "inventory.counts", "inventory.count")),
), areas=("inventory", "custody", "gifts", "points")))

_guide(RoleGuide("finance", "每天收款、看欠款、处理退款，下班前日结；月底出财务报表。", (
    Task(1, "收款", "订单", "/orders/{order}", (
        "点“订单”，搜索订单号或顾客姓名，打开订单。",
        "在“收款”里填金额、付款方式和交易流水号，点“确认收款”。",
        "点“打印收据（PDF）”交给顾客。",
    ), ("orders.show", "orders.receipt"),
        tip="补录前几天的收款时填写收款日期，会计入当天的日结。"),
    Task(2, "查看欠款账龄", "欠款", "/orders/arrears", (
        "点“订单”→“欠款”。",
        "上方按账龄汇总，下方按业务员、部门列出每笔欠款。",
        "逾期较久的提醒业务员催收。",
    ), ("orders.arrears",)),
    Task(3, "日结", "日结", "/orders/close", (
        "下班前点“订单”→“日结”。",
        "清点现金和各收款方式收到的金额，填在“实盘”一栏。",
        "点“日结 #1”（同一天可以分几次日结：#2、#3……），打印日结单留档。",
    ), ("orders.close", "orders.close_pdf")),
    Task(4, "退款与退货", "订单", "/orders/", (
        "打开订单：顾客退货点“办理退货（由我审批）”，退款在“退款”里填写。",
        "冷静期内财务可直接办理；过了冷静期需要领导批准。",
        "收错的款项点“冲销”更正，不要删除。",
    ), ("orders.index",)),
    Task(5, "财务报表", "财务报表", "/reports/finance", (
        "点“报表”→“财务报表”，选择期间，点“显示”。",
        "查看收款、退款、欠款、寄存商品和积分负债。",
        "点“PDF”打印，或“导出 .xlsx”。",
    ), ("reports.finance_view", "reports.index", "points.liability")),
), areas=("orders", "reports", "inventory", "custody", "gifts")))

_guide(RoleGuide("dept_head", "带好团队：看任务完成情况、确认大单、看部门业绩、管好公海和会议。", (
    Task(1, "查看团队任务", "团队任务", "/tasks/team", (
        "点“今日任务”→“团队任务”。",
        "每位业务员的未完成、逾期和按时完成一目了然。",
        "有人请假或离职时，把任务转给其他业务员。",
    ), ("tasks.team", "tasks.today")),
    Task(2, "看部门业绩", "部门业绩", "/reports/performance", (
        "点“报表”→“业绩考核”，选择期间。",
        "每位业务员的邀约、到场、成交、回款与部门平均对比。",
        "点任何数字可以查看背后的明细。",
    ), ("reports.performance_view", "reports.index")),
    Task(3, "确认大单", "订单", "/orders/", (
        "大额订单和超出折扣权限的价格会等待确认，在订单列表里打开它。",
        "核对金额、价格和家属是否知情，点“确认大额订单”。",
        "在业务员的平板上确认时，输入自己的确认 PIN（名字菜单 →“我的确认PIN”）。",
    ), ("orders.index", "orders.show", "orders.my_pin")),
    Task(4, "公海与顾客交接", "公海", "/customers/pool", (
        "点“公海”，查看长期无人跟进、退回公海的顾客。",
        "勾选顾客，点“分配所选”交给部门里的业务员。",
        "业务员离职或调岗时用“离职交接”把顾客一次转走。",
    ), ("customers.pool", "customers.handover")),
    Task(5, "安排会议", "春季养生讲座", "/events/{event}", (
        "点“会议”→ 新建会议，填时间、地点和人数。",
        "在会议页“添加桌位”“添加费用”，指定会务人员。",
        "会前查看“邀约名单”的确认人数，打印签到表和桌卡。",
    ), ("events.show", "events.new", "events.edit", "events.index")),
), areas=("reports", "customers", "events", "tasks", "orders", "points", "custody")))

_guide(RoleGuide("manager", "用数据管理公司：业绩、会议效果、利润，公海分配和审计。", (
    Task(1, "公司业绩汇总", "公司汇总", "/reports/company", (
        "点“报表”→“公司汇总”，选择期间，点“显示”。",
        "按部门查看销售、回款、欠款，与上一期对比。",
        "点“PDF”打印给管理会议。",
    ), ("reports.company", "reports.index")),
    Task(2, "会议效果（投入产出）", "会议效果", "/reports/events/{event}", (
        "点“报表”→“会议效果”，选一场会议。",
        "看邀约 → 到场 → 成交 → 回款的每一步，按业务员分开。",
        "投入产出比已扣除商品成本、赠品和场地费用。",
    ), ("reports.event_roi", "reports.events", "reports.channel_roi")),
    Task(3, "利润报表", "利润报表", "/reports/profit", (
        "点“报表”→“利润报表”，选择期间。",
        "按商品、会议、业务员、部门查看销售额、成本和毛利。",
        "点数字查看构成它的订单。",
    ), ("reports.profit_view",)),
    Task(4, "分配公海顾客", "公海", "/customers/pool", (
        "点“公海”，按渠道、等级筛选。",
        "勾选顾客，点“分配所选”，选业务员。",
    ), ("customers.pool",)),
    Task(5, "审计日志", "审计日志", "/admin/audit", (
        "点“审计日志”，按人员、操作和日期筛选。",
        "查看谁看过完整号码、谁导出了顾客、谁改了价格和设置。",
        "点“打印（PDF）”留档。",
    ), ("admin.audit",)),
), areas=("reports", "customers")))

_guide(RoleGuide("admin", "管好账号、部门和系统设置；新公司先按首页的“开始使用”清单逐项完成。", (
    Task(1, "开始使用清单", "首页", "/", (
        "新公司第一次登录，首页上方是“开始使用”清单。",
        "按顺序点每一步的“去设置”，完成后回到首页，状态变为“已完成”。",
        "全部完成或点“收起此清单”后不再显示。",
    ), ("main.index",)),
    Task(2, "新建用户", "新建用户", "/admin/users/new", (
        "点“用户”→“新建用户”。",
        "填登录名、姓名、手机号，选部门和角色（可多选），设初始密码。",
        "点“创建用户”，把密码当面告诉本人；员工离职时在用户页停用账号。",
    ), ("admin.users", "admin.new_user", "admin.user")),
    Task(3, "维护部门", "部门", "/admin/departments", (
        "点“部门”，填部门名称，选上级部门，点“创建部门”。",
        "部门主管只能看到自己部门（含下级部门）的顾客和业绩。",
    ), ("admin.departments", "admin.department")),
    Task(4, "系统设置", "系统设置", "/admin/settings", (
        "点“系统设置”：公司名称、时区、登录规则、冷静期、大单金额、积分、公海规则等。",
        "修改后点“保存设置”，每一次修改都记入审计日志。",
    ), ("admin.settings",)),
    Task(5, "查看夜间任务", "夜间任务", "/tasks/jobs", (
        "每天早上看一眼“夜间任务”：回访、生日、催款、公海等任务是否都已成功生成。",
        "出现“失败”时联系技术支持；错过的日子会自动补跑。",
    ), ("tasks.job_runs",)),
), areas=("admin",)))
