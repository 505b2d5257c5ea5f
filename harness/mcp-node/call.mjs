// One MCP session with the tutor through the official TypeScript SDK's client over streamable HTTP: the tools
// listed, then one tool called. Prints {"tools": [...], "result": <CallToolResult>} as JSON.
// Usage: node call.mjs <url of /mcp> <tool> <arguments as JSON> [<bearer token>]
import {Client} from '@modelcontextprotocol/sdk/client/index.js';
import {StreamableHTTPClientTransport} from '@modelcontextprotocol/sdk/client/streamableHttp.js';

const [url, tool, args, token] = process.argv.slice(2);
const headers = token ? {Authorization: `Bearer ${token}`} : {};
const transport = new StreamableHTTPClientTransport(new URL(url), {requestInit: {headers}});
const client = new Client({name: 'textbook-tutor-tests', version: '1.0.0'});
await client.connect(transport);
const {tools} = await client.listTools();
const result = await client.callTool({name: tool, arguments: JSON.parse(args)});
console.log(JSON.stringify({tools: tools.map((t) => t.name), result}));
await client.close();
