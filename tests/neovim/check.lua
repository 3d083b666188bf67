-- editors/neovim/flowc.lua under a real Neovim (headless): a file in a project folder (a flowc.toml two
-- levels up) gets one flowc lsp client rooted at that folder, and the server's diagnostics arrive with
-- one that only the project shows: the open file defines a flow that a file two folders up defines too
-- (a server rooted at the file's own folder would not see it). Run by .ci/run:
--   PATH=target/debug:$PATH nvim --headless -u NONE -c "luafile tests/neovim/check.lua"
-- It prints one line, "ok root=..." or "FAILED: why", and quits with 0 or 1.
local function finish(ok, text)
  io.stdout:write((ok and "ok " or "FAILED: ") .. text .. "\n")
  vim.cmd(ok and "qa!" or "cquit! 1")
end

local dir = vim.fn.tempname()
vim.fn.mkdir(dir .. "/flows/sub", "p")
vim.fn.writefile({}, dir .. "/flowc.toml")
vim.fn.writefile({ "flow main {", "  send \"Hi\"", "}" }, dir .. "/flows/helper.flow")
vim.fn.writefile({ "flow main {", "  send \"Hello\"", "}" }, dir .. "/flows/sub/main.flow")

vim.cmd("luafile editors/neovim/flowc.lua")
vim.cmd("edit " .. dir .. "/flows/sub/main.flow")
local buf = vim.api.nvim_get_current_buf()

local clients = {}
local attached = vim.wait(10000, function()
  clients = vim.lsp.buf_get_clients(buf)
  return next(clients) ~= nil
end, 50)
if not attached then return finish(false, "no flowc lsp client attached") end
local _, client = next(clients)
local want = vim.fn.resolve(dir)
if vim.fn.resolve(client.config.root_dir) ~= want then
  return finish(false, "root " .. tostring(client.config.root_dir) .. ", not " .. want)
end
local got = vim.wait(10000, function() return #vim.diagnostic.get(buf) > 0 end, 50)
if not got then return finish(false, "no diagnostics from the server") end
local d = vim.diagnostic.get(buf)[1]
if d.lnum ~= 0 or not d.message:find("helper.flow", 1, true) then
  return finish(false, "unexpected diagnostic at line " .. d.lnum .. ": " .. d.message)
end
finish(true, "root=" .. client.config.root_dir .. " diagnostic=" .. d.message)
