-- :KomboJobs [STATUS] lists the jobs with that status (default OPEN), all
-- pages, in a scratch buffer, without freezing the editor: the request runs
-- in a kombo.spawn task driven by Neovim's libuv loop, and the buffer is
-- filled through vim.schedule.
--
-- Setup (the checkout on 'runtimepath' makes require("kombo") work; the C
-- core is built for LuaJIT with
--   make LUA_VERSION=5.1 LUA=luajit LUA_INCDIR=/usr/include/luajit-2.1 BUILD=build/luajit):
--   set runtimepath+=/path/to/kombo-lua,/path/to/kombo-lua/examples/nvim
--   let g:kombo_cpath = '/path/to/kombo-lua/build/luajit/?.so'
-- and KOMBO_API_KEY, KOMBO_INTEGRATION_ID (optionally KOMBO_SERVER_URL) in
-- the environment, or g:kombo_api_key, g:kombo_integration_id, g:kombo_server_url.

local vim = vim -- luacheck: ignore 113

local client

local function _setting(name)
  local v = vim.g["kombo_" .. name]
  if v == nil or v == "" then v = os.getenv("KOMBO_" .. name:upper()) end
  return v
end

local function _client()
  if client then return client end
  local cpath = vim.g.kombo_cpath
  if cpath and not package.cpath:find(cpath, 1, true) then package.cpath = cpath .. ";" .. package.cpath end
  local kombo = require("kombo")
  local c, err = kombo.new({
    api_key = _setting("api_key"),
    integration_id = _setting("integration_id"),
    server_url = _setting("server_url"),
  })
  if not c then return nil, err end
  client = c
  return client
end

local function _scratch(title)
  vim.cmd("botright new")
  local buf = vim.api.nvim_get_current_buf()
  vim.bo[buf].buftype = "nofile"
  vim.bo[buf].bufhidden = "wipe"
  vim.bo[buf].swapfile = false
  vim.bo[buf].filetype = "kombojobs"
  pcall(vim.api.nvim_buf_set_name, buf, title)
  return buf
end

local function _show(buf, lines)
  if not vim.api.nvim_buf_is_valid(buf) then return end
  vim.bo[buf].modifiable = true
  vim.api.nvim_buf_set_lines(buf, 0, -1, false, lines)
  vim.bo[buf].modifiable = false
end

local function _list_jobs(opts)
  local status = (opts.args ~= "" and opts.args or "OPEN"):upper()
  local c, err = _client()
  if not c then
    vim.notify(tostring(err), vim.log.levels.ERROR)
    return
  end
  local buf = _scratch("kombo://jobs/" .. status)
  _show(buf, { "Loading " .. status .. " jobs..." })

  -- Runs in a libuv callback: no editor API here, only in vim.schedule.
  require("kombo").spawn(function()
    local lines, failure = {}, nil
    local first, ferr = c.ats:get_jobs({ statuses = { status }, page_size = 100 })
    if not first then
      failure = ferr
    else
      local ok, ierr = pcall(function()
        for job in first:items() do
          lines[#lines + 1] = ("%-26s %s"):format(job.id, job.name or "")
        end
      end)
      if not ok then failure = ierr end
    end
    vim.schedule(function()
      if failure then
        _show(buf, { tostring(failure) })
        vim.notify(tostring(failure), vim.log.levels.ERROR)
        return
      end
      table.insert(lines, 1, ("%d %s jobs"):format(#lines, status))
      _show(buf, lines)
    end)
  end)
end

vim.api.nvim_create_user_command("KomboJobs", _list_jobs, {
  nargs = "?",
  complete = function() return { "OPEN", "CLOSED", "DRAFT", "ARCHIVED" } end,
  desc = "List Kombo jobs in a scratch buffer",
})
