// Places an order on AZL Orders from Node.js and prints its outcome, knowing nothing of the
// platform but its published contract: the AsyncAPI document says where place-order goes
// (exchange, routing key, message type) and where its reply comes back; the JSON Schemas
// check the command before it is sent and the reply when it arrives.
//
//   AZL_AMQP_URL=amqp://guest:guest@127.0.0.1:5672/ AZL_NAMESPACE=azl node place-order.mjs
//
// Prints the outcome as JSON ({"status": "accepted", "events": [...], "result": {...}} or
// {"status": "rejected", "reason_code": ..., ...}); exit 0 accepted, 1 rejected, 2 no reply.
import { randomUUID } from "node:crypto";
import { readFile } from "node:fs/promises";
import { dirname, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import Ajv2020 from "ajv/dist/2020.js";
import addFormats from "ajv-formats";
import amqp from "amqplib";

const here = dirname(fileURLToPath(import.meta.url));
const contracts = resolve(process.env.AZL_CONTRACTS_DIR ?? resolve(here, "../../shared/contracts/schemas"));
const url = process.env.AZL_AMQP_URL ?? "amqp://guest:guest@127.0.0.1:5672/";
const ns = process.env.AZL_NAMESPACE ?? "azl";
const timeoutMs = Number(process.env.AZL_TIMEOUT_MS ?? 20000);

const readJson = async (name) => JSON.parse(await readFile(resolve(contracts, name), "utf8"));
const asyncapi = await readJson("asyncapi.json");
const withNamespace = (text) => text.replaceAll("{ns}", ns);

// Where place-order goes, from the operation that publishes its current version.
const operation = Object.values(asyncapi.operations).find(
  (op) => op.action === "send" && op.title.endsWith(" orders.place-order.v2"),
);
const channelOf = (ref) => asyncapi.channels[ref.$ref.split("/").pop()];
const channel = channelOf(operation.channel);
const messageType = "orders.place-order.v2";
const exchange = withNamespace(channel.bindings.amqp.exchange.name);
const routingKey = channel.address.split("/").pop();
const repliesExchange = withNamespace(channelOf(operation.reply.channel).bindings.amqp.exchange.name);

const ajv = new Ajv2020({ strict: false, allErrors: true });
addFormats(ajv);
const checkCommand = ajv.compile(await readJson(`${messageType}.json`));
const checkOutcome = ajv.compile(await readJson("command.outcome.v1.json"));

const customer = `node-${randomUUID().slice(0, 8)}`;
const command = {
  actor: { id: customer, role: "customer" },
  order_id: randomUUID(),
  items: [
    {
      product_url: "https://item.taobao.com/item.htm?id=602983728731",
      title: "Áo khoác gió",
      variant: "L",
      quantity: 2,
      unit_price_cny: "128.00",
    },
  ],
  delivery: {
    recipient: { full_name: "Trần Thị Bình", phone: "0987654321" },
    address: { line: "45 Lê Lợi", district: "Quận 1", province: "Hồ Chí Minh" },
  },
  services: ["tallying"],
  exchange_rate: "3520",
};
if (!checkCommand(command)) {
  console.error(JSON.stringify(checkCommand.errors, null, 2));
  process.exit(2);
}

const connection = await amqp.connect(url);
const user = decodeURIComponent(new URL(url).username || "guest");
try {
  const channelToBroker = await connection.createConfirmChannel();
  // The reply queue: server-named, exclusive, bound to {ns}.replies under its own name.
  const { queue } = await channelToBroker.assertQueue("", { exclusive: true, autoDelete: true });
  await channelToBroker.bindQueue(queue, repliesExchange, queue);
  const commandId = randomUUID();
  const reply = new Promise((resolveReply, rejectReply) => {
    const timer = setTimeout(() => rejectReply(new Error("no reply")), timeoutMs);
    channelToBroker.consume(
      queue,
      (message) => {
        if (message?.properties.correlationId !== commandId) return;
        clearTimeout(timer);
        resolveReply(JSON.parse(message.content.toString("utf8")));
      },
      { noAck: true },
    );
  });
  channelToBroker.publish(exchange, routingKey, Buffer.from(JSON.stringify(command)), {
    messageId: commandId,
    correlationId: commandId,
    type: messageType,
    contentType: "application/json",
    replyTo: queue,
    persistent: true,
    timestamp: Math.floor(Date.now() / 1000),
    appId: "node-example",
    userId: user, // RabbitMQ checks it is the connection's user
  });
  await channelToBroker.waitForConfirms();
  const outcome = await reply.catch((error) => {
    console.error(`${error.message} in ${timeoutMs} ms`);
    process.exit(2);
  });
  if (!checkOutcome(outcome)) {
    console.error("the reply does not match command.outcome.v1:", JSON.stringify(checkOutcome.errors));
    process.exit(2);
  }
  console.log(JSON.stringify({ order_id: command.order_id, customer, ...outcome }));
  process.exitCode = outcome.status === "accepted" ? 0 : 1;
} finally {
  await connection.close();
}
