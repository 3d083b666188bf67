-- flowc for Neovim (0.8 or newer): put this in your init.lua, or in ~/.config/nvim/plugin/flowc.lua.
-- Files ending in .flow get the `flow` filetype, `//` comments, and the flowc language server
-- (diagnostics, hover, go to definition, references, rename, completion, formatting, quick fixes).
vim.filetype.add({ extension = { flow = "flow" } })

vim.api.nvim_create_autocmd("FileType", {
  pattern = "flow",
  callback = function(args)
    vim.bo[args.buf].commentstring = "// %s"
    vim.lsp.start({
      name = "flowc",
      cmd = { "flowc", "lsp" },
      root_dir = vim.fs.dirname(vim.fs.find({ ".git" }, { upward = true, path = vim.api.nvim_buf_get_name(args.buf) })[1])
        or vim.fn.getcwd(),
    })
  end,
})

-- Format on save with `flowc fmt` through the server.
vim.api.nvim_create_autocmd("BufWritePre", {
  pattern = "*.flow",
  callback = function() vim.lsp.buf.format({ name = "flowc" }) end,
})
