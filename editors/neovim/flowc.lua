-- flowc for Neovim (0.7 or newer): put this in your init.lua, or in ~/.config/nvim/plugin/flowc.lua.
if vim.fn.has("nvim-0.8") == 1 then
  vim.filetype.add({ extension = { flow = "flow" } })
else -- 0.7: vim.filetype.add is ignored unless g:do_filetype_lua was set before startup
  vim.api.nvim_create_autocmd({ "BufRead", "BufNewFile" }, { pattern = "*.flow", command = "setfiletype flow" })
end

local client_id -- 0.7 only: vim.lsp.start (0.8+) reuses its client by itself
vim.api.nvim_create_autocmd("FileType", {
  pattern = "flow",
  callback = function(args)
    vim.bo[args.buf].commentstring = "// %s"
    local dir = vim.fn.fnamemodify(vim.api.nvim_buf_get_name(args.buf), ":p:h")
    local git = vim.fn.finddir(".git", dir .. ";")
    local config = {
      name = "flowc",
      cmd = { "flowc", "lsp" },
      root_dir = git ~= "" and vim.fn.fnamemodify(git, ":p:h:h") or vim.fn.getcwd(),
    }
    if vim.lsp.start then
      vim.lsp.start(config)
    else
      if not (client_id and vim.lsp.get_client_by_id(client_id)) then client_id = vim.lsp.start_client(config) end
      if client_id then vim.lsp.buf_attach_client(args.buf, client_id) end
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
