-- flowc for Neovim (0.7 or newer): put this in your init.lua, or in ~/.config/nvim/plugin/flowc.lua.
if vim.fn.has("nvim-0.8") == 1 then
  vim.filetype.add({ extension = { flow = "flow" } })
else -- 0.7: vim.filetype.add is ignored unless g:do_filetype_lua was set before startup
  vim.api.nvim_create_autocmd({ "BufRead", "BufNewFile" }, { pattern = "*.flow", command = "setfiletype flow" })
end

-- The project a file belongs to (the files checked together, as `flowc check DIR`): the nearest folder
-- above it with a flowc.toml (which may be empty) or a .git, else the file's own folder.
local function project_root(file)
  local dir = vim.fn.fnamemodify(file, ":p:h")
  local marker = vim.fn.findfile("flowc.toml", dir .. ";")
  if marker ~= "" then return vim.fn.fnamemodify(marker, ":p:h") end
  local git = vim.fn.finddir(".git", dir .. ";")
  if git ~= "" then return vim.fn.fnamemodify(git, ":p:h:h") end
  return dir
end

local clients = {} -- 0.7 only, one per project: vim.lsp.start (0.8+) reuses its clients by itself
vim.api.nvim_create_autocmd("FileType", {
  pattern = "flow",
  callback = function(args)
    vim.bo[args.buf].commentstring = "// %s"
    local root = project_root(vim.api.nvim_buf_get_name(args.buf))
    local config = { name = "flowc", cmd = { "flowc", "lsp" }, root_dir = root }
    if vim.lsp.start then
      vim.lsp.start(config)
    else
      local id = clients[root]
      if not (id and vim.lsp.get_client_by_id(id)) then id = vim.lsp.start_client(config); clients[root] = id end
      if id then vim.lsp.buf_attach_client(args.buf, id) end
    end
  end,
})

-- Format on save with `flowc fmt` through the server.
vim.api.nvim_create_autocmd("BufWritePre", {
  pattern = "*.flow",
  callback = function()
    if vim.lsp.buf.format then vim.lsp.buf.format({ name = "flowc" }) else vim.lsp.buf.formatting_sync(nil, 1000) end
  end,
})
