-- GENERATED from Kombo's OpenAPI document by `make operations`
-- (lua5.4 tools/gen-operations.lua ../shared/reference/kombo-openapi.json); do not edit.
-- The 23 ATS operations as data: method, path, parameters and the request body schema.
local operations = {
  {
    name = "get_applications",
    alias = "getApplications",
    method = "GET",
    path = "/ats/applications",
    paginated = true,
    define = function()
      return {
        path_params = {},
        query = {
          { name = "cursor", schema = { type = "string" } },
          { name = "page_size", schema = { type = "integer", maximum = 250, minimum = 1 } },
          {
            name = "updated_after",
            schema = {
              type = "string",
              format = "date-time",
              pattern = "^\\d{4}-\\d{2}-\\d{2}(T\\d{2}:\\d{2}:\\d{2}(\\.\\d+)?)?Z?$",
            },
          },
          {
            name = "include_deleted",
            schema = { type = "string", enum = { "true", "false" } },
            boolean = true,
          },
          { name = "ids", schema = { type = "string" }, list = true },
          { name = "remote_ids", schema = { type = "string" }, list = true },
          {
            name = "outcome",
            schema = { type = "string", enum = { "PENDING", "HIRED", "DECLINED" } },
          },
          { name = "outcomes", schema = { type = "string" }, list = true },
          { name = "job_ids", schema = { type = "string" }, list = true },
          { name = "job_remote_ids", schema = { type = "string" }, list = true },
          { name = "current_stage_ids", schema = { type = "string" }, list = true },
          {
            name = "remote_created_after",
            schema = {
              type = "string",
              format = "date-time",
              pattern = "^\\d{4}-\\d{2}-\\d{2}(T\\d{2}:\\d{2}:\\d{2}(\\.\\d+)?)?Z?$",
            },
          },
        },
      }
    end,
  },
  {
    name = "move_application_to_stage",
    alias = "moveApplicationToStage",
    method = "PUT",
    path = "/ats/applications/{application_id}/stage",
    paginated = false,
    define = function()
      return {
        path_params = { "application_id" },
        query = {},
        body = {
          type = "object",
          additional = true,
          properties = {
            remote_fields = {
              type = "object",
              additional = true,
              properties = {
                greenhouse = {
                  type = "object",
                  additional = true,
                  properties = {
                    post_headers = {
                      type = "object",
                      additional = true,
                      properties = { ["On-Behalf-Of"] = { type = "string", nullable = true } },
                    },
                  },
                },
                workable = {
                  type = "object",
                  additional = true,
                  properties = { on_behalf_of_user_remote_id = { type = "string" } },
                },
              },
            },
            stage_id = { type = "string" },
          },
          required = { "stage_id" },
        },
      }
    end,
  },
  {
    name = "add_application_result_link",
    alias = "addApplicationResultLink",
    method = "POST",
    path = "/ats/applications/{application_id}/result-links",
    paginated = false,
    define = function()
      return {
        path_params = { "application_id" },
        query = {},
        body = {
          type = "object",
          additional = true,
          properties = {
            details = {
              type = "object",
              additional = true,
              properties = {
                attributes = {
                  type = "array",
                  items = {
                    type = "object",
                    additional = true,
                    properties = { key = { type = "string" }, value = { type = "string" } },
                    required = { "key", "value" },
                  },
                },
                custom_field_name_prefix = { type = "string" },
              },
              required = { "custom_field_name_prefix", "attributes" },
            },
            label = { type = "string" },
            remote_fields = {
              type = "object",
              additional = true,
              properties = {
                greenhouse = {
                  type = "object",
                  additional = true,
                  properties = {
                    post_headers = {
                      type = "object",
                      additional = true,
                      properties = { ["On-Behalf-Of"] = { type = "string", nullable = true } },
                    },
                  },
                },
                icims = {
                  type = "object",
                  additional = true,
                  properties = { assessment_package_id = { type = "string" } },
                },
                oracle = {
                  type = "object",
                  additional = true,
                  properties = {
                    multi_post_to_all_current_applications = { type = "boolean" },
                    override_document_category = {
                      type = "string",
                      enum = {
                        "IRC_CANDIDATE_RESUME",
                        "IRC_CANDIDATE_COVERLETTER",
                        "MISC",
                        "IRC_INTERNAL",
                      },
                    },
                  },
                },
                workable = {
                  type = "object",
                  additional = true,
                  properties = { on_behalf_of_user_remote_id = { type = "string" } },
                },
              },
            },
            url = { type = "string", format = "uri" },
          },
          required = { "label", "url" },
        },
      }
    end,
  },
  {
    name = "add_application_note",
    alias = "addApplicationNote",
    method = "POST",
    path = "/ats/applications/{application_id}/notes",
    paginated = false,
    define = function()
      return {
        path_params = { "application_id" },
        query = {},
        body = {
          type = "object",
          additional = true,
          properties = {
            content = { type = "string" },
            content_type = { type = "string", enum = { "PLAIN_TEXT" } },
            remote_fields = {
              type = "object",
              additional = true,
              properties = {
                bullhorn = {
                  type = "object",
                  additional = true,
                  properties = { action = { type = "string" } },
                },
                greenhouse = {
                  type = "object",
                  additional = true,
                  properties = {
                    post_headers = {
                      type = "object",
                      additional = true,
                      properties = { ["On-Behalf-Of"] = { type = "string", nullable = true } },
                    },
                    visibility = { type = "string", enum = { "admin_only", "private", "public" } },
                  },
                },
                recruitee = {
                  type = "object",
                  additional = true,
                  properties = { is_json = { type = "boolean" }, visibility = {} },
                },
                teamtailor = {
                  type = "object",
                  additional = true,
                  properties = { user_id = { type = "string" } },
                },
                workable = {
                  type = "object",
                  additional = true,
                  properties = { on_behalf_of_user_remote_id = { type = "string" } },
                },
              },
            },
          },
          required = { "content", "content_type" },
        },
      }
    end,
  },
  {
    name = "get_application_attachments",
    alias = "getApplicationAttachments",
    method = "GET",
    path = "/ats/applications/{application_id}/attachments",
    paginated = false,
    define = function()
      return { path_params = { "application_id" }, query = {} }
    end,
  },
  {
    name = "add_application_attachment",
    alias = "addApplicationAttachment",
    method = "POST",
    path = "/ats/applications/{application_id}/attachments",
    paginated = false,
    define = function()
      return {
        path_params = { "application_id" },
        query = {},
        body = {
          type = "object",
          additional = true,
          properties = {
            attachment = {
              type = "object",
              additional = true,
              properties = {
                content_type = { type = "string", pattern = "^[\\w.-]+\\/[\\w.-]+$" },
                data = { type = "string" },
                data_url = { type = "string", format = "uri" },
                name = { type = "string" },
                type = { type = "string", enum = { "CV", "COVER_LETTER", "OTHER" } },
              },
              required = { "name", "type" },
            },
            remote_fields = {
              type = "object",
              additional = true,
              properties = {
                greenhouse = {
                  type = "object",
                  additional = true,
                  properties = {
                    post_headers = {
                      type = "object",
                      additional = true,
                      properties = { ["On-Behalf-Of"] = { type = "string", nullable = true } },
                    },
                  },
                },
                oracle = {
                  type = "object",
                  additional = true,
                  properties = {
                    multi_post_to_all_current_applications = { type = "boolean" },
                    override_document_category = {
                      type = "string",
                      enum = {
                        "IRC_CANDIDATE_RESUME",
                        "IRC_CANDIDATE_COVERLETTER",
                        "MISC",
                        "IRC_INTERNAL",
                      },
                    },
                  },
                },
                workable = {
                  type = "object",
                  additional = true,
                  properties = { on_behalf_of_user_remote_id = { type = "string" } },
                },
              },
            },
          },
          required = { "attachment" },
        },
      }
    end,
  },
  {
    name = "reject_application",
    alias = "rejectApplication",
    method = "POST",
    path = "/ats/applications/{application_id}/reject",
    paginated = false,
    define = function()
      return {
        path_params = { "application_id" },
        query = {},
        body = {
          type = "object",
          additional = true,
          properties = {
            note = { type = "string" },
            rejection_reason_id = { type = "string" },
            remote_fields = {
              type = "object",
              additional = true,
              properties = {
                greenhouse = {
                  type = "object",
                  additional = true,
                  properties = {
                    post_headers = {
                      type = "object",
                      additional = true,
                      properties = { ["On-Behalf-Of"] = { type = "string", nullable = true } },
                    },
                    rejection_email = { type = "object", additional = true },
                  },
                },
                workable = {
                  type = "object",
                  additional = true,
                  properties = { on_behalf_of_user_remote_id = { type = "string" } },
                },
              },
            },
          },
          required = { "rejection_reason_id" },
        },
      }
    end,
  },
  {
    name = "get_candidates",
    alias = "getCandidates",
    method = "GET",
    path = "/ats/candidates",
    paginated = true,
    define = function()
      return {
        path_params = {},
        query = {
          { name = "cursor", schema = { type = "string" } },
          { name = "page_size", schema = { type = "integer", maximum = 250, minimum = 1 } },
          {
            name = "updated_after",
            schema = {
              type = "string",
              format = "date-time",
              pattern = "^\\d{4}-\\d{2}-\\d{2}(T\\d{2}:\\d{2}:\\d{2}(\\.\\d+)?)?Z?$",
            },
          },
          {
            name = "include_deleted",
            schema = { type = "string", enum = { "true", "false" } },
            boolean = true,
          },
          { name = "ids", schema = { type = "string" }, list = true },
          { name = "remote_ids", schema = { type = "string" }, list = true },
          { name = "email", schema = { type = "string", format = "email" } },
          { name = "job_ids", schema = { type = "string" }, list = true },
          { name = "first_name", schema = { type = "string" } },
          { name = "last_name", schema = { type = "string" } },
        },
      }
    end,
  },
  {
    name = "create_candidate",
    alias = "createCandidate",
    method = "POST",
    path = "/ats/candidates",
    paginated = false,
    define = function()
      return {
        path_params = {},
        query = {},
        body = {
          type = "object",
          additional = true,
          properties = {
            application = {
              type = "object",
              additional = true,
              properties = { job_id = { type = "string" }, stage_id = { type = "string" } },
              required = { "job_id" },
            },
            attachments = {
              type = "array",
              items = {
                type = "object",
                additional = true,
                properties = {
                  content_type = { type = "string", pattern = "^[\\w.-]+\\/[\\w.-]+$" },
                  data = { type = "string" },
                  data_url = { type = "string", format = "uri" },
                  name = { type = "string" },
                  type = { type = "string", enum = { "CV", "COVER_LETTER", "OTHER" } },
                },
                required = { "name", "type" },
              },
            },
            candidate = {
              type = "object",
              additional = true,
              properties = {
                additional_email_addresses = {
                  type = "array",
                  items = {
                    type = "object",
                    additional = true,
                    properties = {
                      email_address = { type = "string", format = "email" },
                      type = { type = "string", enum = { "PERSONAL", "WORK", "OTHER" } },
                    },
                    required = { "type", "email_address" },
                  },
                },
                additional_phone_numbers = {
                  type = "array",
                  items = {
                    type = "object",
                    additional = true,
                    properties = {
                      phone_number = { type = "string" },
                      type = { type = "string", enum = { "PERSONAL", "WORK", "OTHER" } },
                    },
                    required = { "type", "phone_number" },
                  },
                },
                availability_date = {
                  type = "string",
                  format = "date-time",
                  pattern = "^\\d{4}-\\d{2}-\\d{2}(T\\d{2}:\\d{2}:\\d{2}(\\.\\d+)?)?Z?$",
                },
                company = { type = "string" },
                email_address = { type = "string", format = "email" },
                first_name = { type = "string" },
                gender = { type = "string", enum = { "MALE", "FEMALE", "OTHER" } },
                last_name = { type = "string" },
                location = {
                  type = "object",
                  additional = true,
                  properties = {
                    city = { type = "string" },
                    country = { type = "string", pattern = "^[A-Z]{2}$" },
                    state = { type = "string" },
                    zip_code = { type = "string" },
                  },
                  required = { "country" },
                },
                phone_number = { type = "string" },
                salary_expectations = {
                  type = "object",
                  additional = true,
                  properties = {
                    amount = { type = "number", minimum = -1.7976931348623157e+308 },
                    period = { type = "string", enum = { "MONTH", "YEAR" } },
                  },
                  required = { "period", "amount" },
                },
                social_links = {
                  type = "array",
                  items = {
                    type = "object",
                    additional = true,
                    properties = { url = { type = "string", format = "uri" } },
                    required = { "url" },
                  },
                },
                title = { type = "string" },
              },
              required = { "first_name", "last_name", "email_address" },
            },
            gdpr_consent = {
              type = "object",
              additional = true,
              properties = {
                expires_at = {
                  type = "string",
                  format = "date-time",
                  pattern = "^\\d{4}-\\d{2}-\\d{2}(T\\d{2}:\\d{2}:\\d{2}(\\.\\d+)?)?Z?$",
                },
                given = { type = "boolean" },
              },
            },
            remote_fields = {
              type = "object",
              additional = true,
              properties = {
                avature = {
                  type = "object",
                  additional = true,
                  properties = {
                    workflow = {
                      type = "object",
                      additional = true,
                      properties = {
                        step = {
                          type = "object",
                          additional = true,
                          properties = { id = { type = "integer" } },
                          required = { "id" },
                        },
                      },
                    },
                  },
                },
                bullhorn = {
                  type = "object",
                  additional = true,
                  properties = {
                    candidate = { type = "object", additional = true },
                    job_submission = { type = "object", additional = true },
                  },
                },
                dvinci = {
                  type = "object",
                  additional = true,
                  properties = { application = { type = "object", additional = true } },
                },
                greenhouse = {
                  type = "object",
                  additional = true,
                  properties = {
                    application = { type = "object", additional = true },
                    candidate = { type = "object", additional = true },
                    post_headers = {
                      type = "object",
                      additional = true,
                      properties = { ["On-Behalf-Of"] = { type = "string", nullable = true } },
                    },
                  },
                },
                guidecom = {
                  type = "object",
                  additional = true,
                  properties = { candidate = { type = "object", additional = true } },
                },
                hrworks = {
                  type = "object",
                  additional = true,
                  properties = { jobApplication = { type = "object", additional = true } },
                },
                jobylon = {
                  type = "object",
                  additional = true,
                  properties = {
                    application = {
                      type = "object",
                      additional = true,
                      properties = { message = { type = "string" } },
                    },
                  },
                },
                lever = {
                  type = "object",
                  additional = true,
                  properties = { candidate = { type = "object", additional = true } },
                },
                personio = {
                  type = "object",
                  additional = true,
                  properties = { application = { type = "object", additional = true } },
                },
                piloga = {
                  type = "object",
                  additional = true,
                  properties = {
                    candidate = {
                      type = "object",
                      additional = true,
                      properties = { street = { type = "string" } },
                    },
                  },
                },
                recruitee = {
                  type = "object",
                  additional = true,
                  properties = {
                    candidate = {
                      type = "object",
                      additional = true,
                      properties = { cover_letter_text = { type = "string" } },
                    },
                  },
                },
                smartrecruiters = {
                  type = "object",
                  additional = true,
                  properties = {
                    candidate = { type = "object", additional = true },
                    candidate_with_questions = { type = "object", additional = true },
                    candidate_without_questions = { type = "object", additional = true },
                  },
                },
                successfactors = {
                  type = "object",
                  additional = true,
                  properties = {
                    Candidate = { type = "object", additional = true },
                    JobApplication = { type = "object", additional = true },
                    copyJobApplicationAttachments = { type = "boolean" },
                    update_existing_candidate = { type = "boolean", nullable = true },
                  },
                },
                talentadore = {
                  type = "object",
                  additional = true,
                  properties = { applications = { type = "object", additional = true } },
                },
                talentsoft = {
                  type = "object",
                  additional = true,
                  properties = {
                    applicant = { type = "object", additional = true },
                    application = { type = "object", additional = true },
                  },
                },
                teamtailor = {
                  type = "object",
                  additional = true,
                  properties = {
                    application = {
                      type = "object",
                      additional = true,
                      properties = { attributes = { type = "object", additional = true } },
                    },
                    candidate = { type = "object", additional = true },
                  },
                },
                umantis = {
                  type = "object",
                  additional = true,
                  properties = { person = { type = "object", additional = true } },
                },
                workable = {
                  type = "object",
                  additional = true,
                  properties = {
                    candidate = { type = "object", additional = true },
                    on_behalf_of_user_remote_id = { type = "string" },
                  },
                },
                workday = {
                  type = "object",
                  additional = true,
                  properties = {
                    Candidate_Data = {
                      type = "object",
                      additional = true,
                      properties = {
                        Contact_Data = {
                          type = "object",
                          additional = true,
                          properties = {
                            Location_Data = {
                              type = "object",
                              additional = true,
                              properties = {
                                Address_Line_1 = { type = "string" },
                                Address_Line_2 = { type = "string" },
                                Country_City_Reference = {
                                  type = "object",
                                  additional = true,
                                  properties = { WID = { type = "string" } },
                                  required = { "WID" },
                                },
                                Country_Region_Reference = {
                                  type = "object",
                                  additional = true,
                                  properties = { Country_Region_ID = { type = "string" } },
                                  required = { "Country_Region_ID" },
                                },
                                Region_Subdivision_1 = { type = "string" },
                              },
                            },
                          },
                        },
                        Job_Application_Data = {
                          type = "object",
                          additional = true,
                          properties = {
                            Job_Applied_To_Data = {
                              type = "object",
                              additional = true,
                              properties = {
                                Global_Personal_Information_Data = {
                                  type = "object",
                                  additional = true,
                                  properties = { Date_of_Birth = { type = "string" } },
                                },
                              },
                            },
                            Resume_Data = {
                              type = "object",
                              additional = true,
                              properties = {
                                Education_Data = {
                                  type = "array",
                                  items = {
                                    type = "object",
                                    additional = true,
                                    properties = {
                                      Degree_Reference = {
                                        type = "object",
                                        additional = true,
                                        properties = { WID = { type = "string" } },
                                        required = { "WID" },
                                      },
                                      Field_of_Study_Reference = {
                                        type = "object",
                                        additional = true,
                                        properties = { WID = { type = "string" } },
                                        required = { "WID" },
                                      },
                                      First_Year_Attended = {
                                        type = "number",
                                        minimum = -1.7976931348623157e+308,
                                      },
                                      Grade_Average = { type = "string" },
                                      Last_Year_Attended = {
                                        type = "number",
                                        minimum = -1.7976931348623157e+308,
                                      },
                                      School_Name = { type = "string" },
                                    },
                                  },
                                },
                                Experience_Data = {
                                  type = "array",
                                  items = {
                                    type = "object",
                                    additional = true,
                                    properties = {
                                      Company_Name = { type = "string" },
                                      Currently_Work_Here = { type = "boolean" },
                                      Description = { type = "string" },
                                      End_Date = {
                                        type = "string",
                                        format = "date-time",
                                        pattern = "^\\d{4}-\\d{2}-\\d{2}(T\\d{2}:\\d{2}:\\d{2}(\\.\\d+)?)?Z?$",
                                      },
                                      Location = { type = "string" },
                                      Start_Date = {
                                        type = "string",
                                        format = "date-time",
                                        pattern = "^\\d{4}-\\d{2}-\\d{2}(T\\d{2}:\\d{2}:\\d{2}(\\.\\d+)?)?Z?$",
                                      },
                                      Title = { type = "string" },
                                    },
                                    required = { "Company_Name", "Title", "Start_Date" },
                                  },
                                },
                                Language_Data = {
                                  type = "array",
                                  items = {
                                    type = "object",
                                    additional = true,
                                    properties = {
                                      Language = {
                                        type = "object",
                                        additional = true,
                                        properties = {
                                          Language_Ability = {
                                            type = "array",
                                            items = {
                                              type = "object",
                                              additional = true,
                                              properties = {
                                                Language_Ability_Data = {
                                                  type = "object",
                                                  additional = true,
                                                  properties = {
                                                    Language_Ability_Type_Reference = {
                                                      type = "object",
                                                      additional = true,
                                                      properties = { WID = { type = "string" } },
                                                      required = { "WID" },
                                                    },
                                                    Language_Proficiency_Reference = {
                                                      type = "object",
                                                      additional = true,
                                                      properties = { WID = { type = "string" } },
                                                      required = { "WID" },
                                                    },
                                                  },
                                                },
                                              },
                                            },
                                          },
                                          Native = { type = "boolean" },
                                        },
                                        required = { "Language_Ability" },
                                      },
                                      Language_Reference = {
                                        type = "object",
                                        additional = true,
                                        properties = { WID = { type = "string" } },
                                      },
                                    },
                                  },
                                },
                                Skill_Data = {
                                  type = "array",
                                  items = {
                                    type = "object",
                                    additional = true,
                                    properties = { Skill_Name = { type = "string" } },
                                  },
                                },
                              },
                            },
                          },
                        },
                        Language_Reference = {
                          type = "object",
                          additional = true,
                          properties = { WID = { type = "string" } },
                          required = { "WID" },
                        },
                        Name_Detail_Data = {
                          type = "object",
                          additional = true,
                          properties = {
                            Middle_Name = { type = "string" },
                            Social_Suffix_Reference = {
                              type = "object",
                              additional = true,
                              properties = { Predefined_Name_Component_ID = { type = "string" } },
                              required = { "Predefined_Name_Component_ID" },
                            },
                          },
                        },
                        Worker_Reference = {
                          type = "object",
                          additional = true,
                          properties = {
                            Employee_ID = { type = "string" },
                            WID = { type = "string" },
                          },
                        },
                      },
                    },
                    Override_Source_Reference_WID = { type = "string" },
                  },
                },
                zohorecruit = {
                  type = "object",
                  additional = true,
                  properties = { candidate = { type = "object", additional = true } },
                },
              },
            },
            screening_question_answers = {
              type = "array",
              items = {
                type = "object",
                additional = true,
                properties = {
                  answer = {
                    any_of = {
                      { type = "string" },
                      { type = "boolean" },
                      { type = "number", minimum = -1.7976931348623157e+308 },
                      { type = "array", items = { type = "string" } },
                      {
                        type = "string",
                        format = "date-time",
                        pattern = "^\\d{4}-\\d{2}-\\d{2}(T\\d{2}:\\d{2}:\\d{2}(\\.\\d+)?)?Z?$",
                      },
                      {
                        type = "object",
                        additional = true,
                        properties = {
                          content_type = { type = "string", pattern = "^[\\w.-]+\\/[\\w.-]+$" },
                          data = { type = "string" },
                          data_url = { type = "string", format = "uri" },
                          name = { type = "string" },
                        },
                        required = { "name" },
                      },
                    },
                  },
                  question_id = { type = "string" },
                },
                required = { "question_id", "answer" },
              },
            },
            source = {
              type = "object",
              additional = true,
              properties = {
                id = { type = "string" },
                name = { type = "string" },
                unified_key = { type = "string" },
              },
            },
            sourced_by = {
              type = "object",
              additional = true,
              properties = { user_id = { type = "string" } },
              required = { "user_id" },
            },
          },
          required = { "candidate", "application" },
        },
      }
    end,
  },
  {
    name = "get_candidate_attachments",
    alias = "getCandidateAttachments",
    method = "GET",
    path = "/ats/candidates/{candidate_id}/attachments",
    paginated = false,
    define = function()
      return { path_params = { "candidate_id" }, query = {} }
    end,
  },
  {
    name = "add_candidate_attachment",
    alias = "addCandidateAttachment",
    method = "POST",
    path = "/ats/candidates/{candidate_id}/attachments",
    paginated = false,
    define = function()
      return {
        path_params = { "candidate_id" },
        query = {},
        body = {
          type = "object",
          additional = true,
          properties = {
            attachment = {
              type = "object",
              additional = true,
              properties = {
                content_type = { type = "string", pattern = "^[\\w.-]+\\/[\\w.-]+$" },
                data = { type = "string" },
                data_url = { type = "string", format = "uri" },
                name = { type = "string" },
                type = { type = "string", enum = { "CV", "COVER_LETTER", "OTHER" } },
              },
              required = { "name", "type" },
            },
            remote_fields = {
              type = "object",
              additional = true,
              properties = {
                greenhouse = {
                  type = "object",
                  additional = true,
                  properties = {
                    post_headers = {
                      type = "object",
                      additional = true,
                      properties = { ["On-Behalf-Of"] = { type = "string", nullable = true } },
                    },
                  },
                },
                workable = {
                  type = "object",
                  additional = true,
                  properties = { on_behalf_of_user_remote_id = { type = "string" } },
                },
              },
            },
          },
          required = { "attachment" },
        },
      }
    end,
  },
  {
    name = "add_candidate_result_link",
    alias = "addCandidateResultLink",
    method = "POST",
    path = "/ats/candidates/{candidate_id}/result-links",
    paginated = false,
    define = function()
      return {
        path_params = { "candidate_id" },
        query = {},
        body = {
          type = "object",
          additional = true,
          properties = {
            details = {
              type = "object",
              additional = true,
              properties = {
                attributes = {
                  type = "array",
                  items = {
                    type = "object",
                    additional = true,
                    properties = { key = { type = "string" }, value = { type = "string" } },
                    required = { "key", "value" },
                  },
                },
                custom_field_name_prefix = { type = "string" },
              },
              required = { "custom_field_name_prefix", "attributes" },
            },
            label = { type = "string" },
            remote_fields = {
              type = "object",
              additional = true,
              properties = {
                greenhouse = {
                  type = "object",
                  additional = true,
                  properties = {
                    post_headers = {
                      type = "object",
                      additional = true,
                      properties = { ["On-Behalf-Of"] = { type = "string", nullable = true } },
                    },
                  },
                },
                icims = {
                  type = "object",
                  additional = true,
                  properties = { assessment_package_id = { type = "string" } },
                },
                oracle = {
                  type = "object",
                  additional = true,
                  properties = {
                    multi_post_to_all_current_applications = { type = "boolean" },
                    override_document_category = {
                      type = "string",
                      enum = {
                        "IRC_CANDIDATE_RESUME",
                        "IRC_CANDIDATE_COVERLETTER",
                        "MISC",
                        "IRC_INTERNAL",
                      },
                    },
                  },
                },
                workable = {
                  type = "object",
                  additional = true,
                  properties = { on_behalf_of_user_remote_id = { type = "string" } },
                },
              },
            },
            url = { type = "string", format = "uri" },
          },
          required = { "label", "url" },
        },
      }
    end,
  },
  {
    name = "add_candidate_tag",
    alias = "addCandidateTag",
    method = "POST",
    path = "/ats/candidates/{candidate_id}/tags",
    paginated = false,
    define = function()
      return {
        path_params = { "candidate_id" },
        query = {},
        body = {
          type = "object",
          additional = true,
          properties = {
            remote_fields = {
              type = "object",
              additional = true,
              properties = {
                greenhouse = {
                  type = "object",
                  additional = true,
                  properties = {
                    post_headers = {
                      type = "object",
                      additional = true,
                      properties = { ["On-Behalf-Of"] = { type = "string", nullable = true } },
                    },
                  },
                },
                workable = {
                  type = "object",
                  additional = true,
                  properties = { on_behalf_of_user_remote_id = { type = "string" } },
                },
              },
            },
            tag = {
              type = "object",
              additional = true,
              properties = { name = { type = "string", min_length = 1 } },
              required = { "name" },
            },
          },
          required = { "tag" },
        },
      }
    end,
  },
  {
    name = "remove_candidate_tag",
    alias = "removeCandidateTag",
    method = "DELETE",
    path = "/ats/candidates/{candidate_id}/tags",
    paginated = false,
    define = function()
      return {
        path_params = { "candidate_id" },
        query = {},
        body = {
          type = "object",
          additional = true,
          properties = {
            remote_fields = {
              type = "object",
              additional = true,
              properties = {
                greenhouse = {
                  type = "object",
                  additional = true,
                  properties = {
                    post_headers = {
                      type = "object",
                      additional = true,
                      properties = { ["On-Behalf-Of"] = { type = "string", nullable = true } },
                    },
                  },
                },
                workable = {
                  type = "object",
                  additional = true,
                  properties = { on_behalf_of_user_remote_id = { type = "string" } },
                },
              },
            },
            tag = {
              type = "object",
              additional = true,
              properties = { name = { type = "string" } },
              required = { "name" },
            },
          },
          required = { "tag" },
        },
      }
    end,
  },
  {
    name = "get_tags",
    alias = "getTags",
    method = "GET",
    path = "/ats/tags",
    paginated = true,
    define = function()
      return {
        path_params = {},
        query = {
          { name = "cursor", schema = { type = "string" } },
          { name = "page_size", schema = { type = "integer", maximum = 250, minimum = 1 } },
          {
            name = "updated_after",
            schema = {
              type = "string",
              format = "date-time",
              pattern = "^\\d{4}-\\d{2}-\\d{2}(T\\d{2}:\\d{2}:\\d{2}(\\.\\d+)?)?Z?$",
            },
          },
          {
            name = "include_deleted",
            schema = { type = "string", enum = { "true", "false" } },
            boolean = true,
          },
          { name = "ids", schema = { type = "string" }, list = true },
          { name = "remote_ids", schema = { type = "string" }, list = true },
        },
      }
    end,
  },
  {
    name = "get_application_stages",
    alias = "getApplicationStages",
    method = "GET",
    path = "/ats/application-stages",
    paginated = true,
    define = function()
      return {
        path_params = {},
        query = {
          { name = "cursor", schema = { type = "string" } },
          { name = "page_size", schema = { type = "integer", maximum = 250, minimum = 1 } },
          {
            name = "updated_after",
            schema = {
              type = "string",
              format = "date-time",
              pattern = "^\\d{4}-\\d{2}-\\d{2}(T\\d{2}:\\d{2}:\\d{2}(\\.\\d+)?)?Z?$",
            },
          },
          {
            name = "include_deleted",
            schema = { type = "string", enum = { "true", "false" } },
            boolean = true,
          },
          { name = "ids", schema = { type = "string" }, list = true },
          { name = "remote_ids", schema = { type = "string" }, list = true },
        },
      }
    end,
  },
  {
    name = "get_jobs",
    alias = "getJobs",
    method = "GET",
    path = "/ats/jobs",
    paginated = true,
    define = function()
      return {
        path_params = {},
        query = {
          { name = "cursor", schema = { type = "string" } },
          { name = "page_size", schema = { type = "integer", maximum = 250, minimum = 1 } },
          {
            name = "updated_after",
            schema = {
              type = "string",
              format = "date-time",
              pattern = "^\\d{4}-\\d{2}-\\d{2}(T\\d{2}:\\d{2}:\\d{2}(\\.\\d+)?)?Z?$",
            },
          },
          {
            name = "include_deleted",
            schema = { type = "string", enum = { "true", "false" } },
            boolean = true,
          },
          { name = "ids", schema = { type = "string" }, list = true },
          { name = "remote_ids", schema = { type = "string" }, list = true },
          { name = "job_codes", schema = { type = "string" }, list = true },
          { name = "post_url", schema = { type = "string" } },
          {
            name = "status",
            schema = { type = "string", enum = { "OPEN", "CLOSED", "DRAFT", "ARCHIVED" } },
          },
          { name = "statuses", schema = { type = "string" }, list = true },
          { name = "employment_types", schema = { type = "string" }, list = true },
          { name = "visibilities", schema = { type = "string" }, list = true },
          {
            name = "remote_created_after",
            schema = {
              type = "string",
              format = "date-time",
              pattern = "^\\d{4}-\\d{2}-\\d{2}(T\\d{2}:\\d{2}:\\d{2}(\\.\\d+)?)?Z?$",
            },
          },
          { name = "name_contains", schema = { type = "string" } },
        },
      }
    end,
  },
  {
    name = "create_application",
    alias = "createApplication",
    method = "POST",
    path = "/ats/jobs/{job_id}/applications",
    paginated = false,
    define = function()
      return {
        path_params = { "job_id" },
        query = {},
        body = {
          type = "object",
          additional = true,
          properties = {
            attachments = {
              type = "array",
              items = {
                type = "object",
                additional = true,
                properties = {
                  content_type = { type = "string", pattern = "^[\\w.-]+\\/[\\w.-]+$" },
                  data = { type = "string" },
                  data_url = { type = "string", format = "uri" },
                  name = { type = "string" },
                  type = { type = "string", enum = { "CV", "COVER_LETTER", "OTHER" } },
                },
                required = { "name", "type" },
              },
            },
            candidate = {
              type = "object",
              additional = true,
              properties = {
                additional_email_addresses = {
                  type = "array",
                  items = {
                    type = "object",
                    additional = true,
                    properties = {
                      email_address = { type = "string", format = "email" },
                      type = { type = "string", enum = { "PERSONAL", "WORK", "OTHER" } },
                    },
                    required = { "type", "email_address" },
                  },
                },
                additional_phone_numbers = {
                  type = "array",
                  items = {
                    type = "object",
                    additional = true,
                    properties = {
                      phone_number = { type = "string" },
                      type = { type = "string", enum = { "PERSONAL", "WORK", "OTHER" } },
                    },
                    required = { "type", "phone_number" },
                  },
                },
                availability_date = {
                  type = "string",
                  format = "date-time",
                  pattern = "^\\d{4}-\\d{2}-\\d{2}(T\\d{2}:\\d{2}:\\d{2}(\\.\\d+)?)?Z?$",
                },
                company = { type = "string" },
                email_address = { type = "string", format = "email" },
                first_name = { type = "string" },
                gender = { type = "string", enum = { "MALE", "FEMALE", "OTHER" } },
                last_name = { type = "string" },
                location = {
                  type = "object",
                  additional = true,
                  properties = {
                    city = { type = "string" },
                    country = { type = "string", pattern = "^[A-Z]{2}$" },
                    state = { type = "string" },
                    zip_code = { type = "string" },
                  },
                  required = { "country" },
                },
                phone_number = { type = "string" },
                salary_expectations = {
                  type = "object",
                  additional = true,
                  properties = {
                    amount = { type = "number", minimum = -1.7976931348623157e+308 },
                    period = { type = "string", enum = { "MONTH", "YEAR" } },
                  },
                  required = { "period", "amount" },
                },
                social_links = {
                  type = "array",
                  items = {
                    type = "object",
                    additional = true,
                    properties = { url = { type = "string", format = "uri" } },
                    required = { "url" },
                  },
                },
                title = { type = "string" },
              },
              required = { "first_name", "last_name", "email_address" },
            },
            gdpr_consent = {
              type = "object",
              additional = true,
              properties = {
                expires_at = {
                  type = "string",
                  format = "date-time",
                  pattern = "^\\d{4}-\\d{2}-\\d{2}(T\\d{2}:\\d{2}:\\d{2}(\\.\\d+)?)?Z?$",
                },
                given = { type = "boolean" },
              },
            },
            remote_fields = {
              type = "object",
              additional = true,
              properties = {
                avature = {
                  type = "object",
                  additional = true,
                  properties = {
                    workflow = {
                      type = "object",
                      additional = true,
                      properties = {
                        step = {
                          type = "object",
                          additional = true,
                          properties = { id = { type = "integer" } },
                          required = { "id" },
                        },
                      },
                    },
                  },
                },
                bullhorn = {
                  type = "object",
                  additional = true,
                  properties = {
                    candidate = { type = "object", additional = true },
                    job_submission = { type = "object", additional = true },
                  },
                },
                dvinci = {
                  type = "object",
                  additional = true,
                  properties = { application = { type = "object", additional = true } },
                },
                greenhouse = {
                  type = "object",
                  additional = true,
                  properties = {
                    application = { type = "object", additional = true },
                    candidate = { type = "object", additional = true },
                    post_headers = {
                      type = "object",
                      additional = true,
                      properties = { ["On-Behalf-Of"] = { type = "string", nullable = true } },
                    },
                  },
                },
                guidecom = {
                  type = "object",
                  additional = true,
                  properties = { candidate = { type = "object", additional = true } },
                },
                hrworks = {
                  type = "object",
                  additional = true,
                  properties = { jobApplication = { type = "object", additional = true } },
                },
                jobylon = {
                  type = "object",
                  additional = true,
                  properties = {
                    application = {
                      type = "object",
                      additional = true,
                      properties = { message = { type = "string" } },
                    },
                  },
                },
                lever = {
                  type = "object",
                  additional = true,
                  properties = { candidate = { type = "object", additional = true } },
                },
                personio = {
                  type = "object",
                  additional = true,
                  properties = { application = { type = "object", additional = true } },
                },
                piloga = {
                  type = "object",
                  additional = true,
                  properties = {
                    candidate = {
                      type = "object",
                      additional = true,
                      properties = { street = { type = "string" } },
                    },
                  },
                },
                recruitee = {
                  type = "object",
                  additional = true,
                  properties = {
                    candidate = {
                      type = "object",
                      additional = true,
                      properties = { cover_letter_text = { type = "string" } },
                    },
                  },
                },
                smartrecruiters = {
                  type = "object",
                  additional = true,
                  properties = {
                    candidate = { type = "object", additional = true },
                    candidate_with_questions = { type = "object", additional = true },
                    candidate_without_questions = { type = "object", additional = true },
                  },
                },
                successfactors = {
                  type = "object",
                  additional = true,
                  properties = {
                    Candidate = { type = "object", additional = true },
                    JobApplication = { type = "object", additional = true },
                    copyJobApplicationAttachments = { type = "boolean" },
                    update_existing_candidate = { type = "boolean", nullable = true },
                  },
                },
                talentadore = {
                  type = "object",
                  additional = true,
                  properties = { applications = { type = "object", additional = true } },
                },
                talentsoft = {
                  type = "object",
                  additional = true,
                  properties = {
                    applicant = { type = "object", additional = true },
                    application = { type = "object", additional = true },
                  },
                },
                teamtailor = {
                  type = "object",
                  additional = true,
                  properties = {
                    application = {
                      type = "object",
                      additional = true,
                      properties = { attributes = { type = "object", additional = true } },
                    },
                    candidate = { type = "object", additional = true },
                  },
                },
                umantis = {
                  type = "object",
                  additional = true,
                  properties = { person = { type = "object", additional = true } },
                },
                workable = {
                  type = "object",
                  additional = true,
                  properties = {
                    candidate = { type = "object", additional = true },
                    on_behalf_of_user_remote_id = { type = "string" },
                  },
                },
                workday = {
                  type = "object",
                  additional = true,
                  properties = {
                    Candidate_Data = {
                      type = "object",
                      additional = true,
                      properties = {
                        Contact_Data = {
                          type = "object",
                          additional = true,
                          properties = {
                            Location_Data = {
                              type = "object",
                              additional = true,
                              properties = {
                                Address_Line_1 = { type = "string" },
                                Address_Line_2 = { type = "string" },
                                Country_City_Reference = {
                                  type = "object",
                                  additional = true,
                                  properties = { WID = { type = "string" } },
                                  required = { "WID" },
                                },
                                Country_Region_Reference = {
                                  type = "object",
                                  additional = true,
                                  properties = { Country_Region_ID = { type = "string" } },
                                  required = { "Country_Region_ID" },
                                },
                                Region_Subdivision_1 = { type = "string" },
                              },
                            },
                          },
                        },
                        Job_Application_Data = {
                          type = "object",
                          additional = true,
                          properties = {
                            Job_Applied_To_Data = {
                              type = "object",
                              additional = true,
                              properties = {
                                Global_Personal_Information_Data = {
                                  type = "object",
                                  additional = true,
                                  properties = { Date_of_Birth = { type = "string" } },
                                },
                              },
                            },
                            Resume_Data = {
                              type = "object",
                              additional = true,
                              properties = {
                                Education_Data = {
                                  type = "array",
                                  items = {
                                    type = "object",
                                    additional = true,
                                    properties = {
                                      Degree_Reference = {
                                        type = "object",
                                        additional = true,
                                        properties = { WID = { type = "string" } },
                                        required = { "WID" },
                                      },
                                      Field_of_Study_Reference = {
                                        type = "object",
                                        additional = true,
                                        properties = { WID = { type = "string" } },
                                        required = { "WID" },
                                      },
                                      First_Year_Attended = {
                                        type = "number",
                                        minimum = -1.7976931348623157e+308,
                                      },
                                      Grade_Average = { type = "string" },
                                      Last_Year_Attended = {
                                        type = "number",
                                        minimum = -1.7976931348623157e+308,
                                      },
                                      School_Name = { type = "string" },
                                    },
                                  },
                                },
                                Experience_Data = {
                                  type = "array",
                                  items = {
                                    type = "object",
                                    additional = true,
                                    properties = {
                                      Company_Name = { type = "string" },
                                      Currently_Work_Here = { type = "boolean" },
                                      Description = { type = "string" },
                                      End_Date = {
                                        type = "string",
                                        format = "date-time",
                                        pattern = "^\\d{4}-\\d{2}-\\d{2}(T\\d{2}:\\d{2}:\\d{2}(\\.\\d+)?)?Z?$",
                                      },
                                      Location = { type = "string" },
                                      Start_Date = {
                                        type = "string",
                                        format = "date-time",
                                        pattern = "^\\d{4}-\\d{2}-\\d{2}(T\\d{2}:\\d{2}:\\d{2}(\\.\\d+)?)?Z?$",
                                      },
                                      Title = { type = "string" },
                                    },
                                    required = { "Company_Name", "Title", "Start_Date" },
                                  },
                                },
                                Language_Data = {
                                  type = "array",
                                  items = {
                                    type = "object",
                                    additional = true,
                                    properties = {
                                      Language = {
                                        type = "object",
                                        additional = true,
                                        properties = {
                                          Language_Ability = {
                                            type = "array",
                                            items = {
                                              type = "object",
                                              additional = true,
                                              properties = {
                                                Language_Ability_Data = {
                                                  type = "object",
                                                  additional = true,
                                                  properties = {
                                                    Language_Ability_Type_Reference = {
                                                      type = "object",
                                                      additional = true,
                                                      properties = { WID = { type = "string" } },
                                                      required = { "WID" },
                                                    },
                                                    Language_Proficiency_Reference = {
                                                      type = "object",
                                                      additional = true,
                                                      properties = { WID = { type = "string" } },
                                                      required = { "WID" },
                                                    },
                                                  },
                                                },
                                              },
                                            },
                                          },
                                          Native = { type = "boolean" },
                                        },
                                        required = { "Language_Ability" },
                                      },
                                      Language_Reference = {
                                        type = "object",
                                        additional = true,
                                        properties = { WID = { type = "string" } },
                                      },
                                    },
                                  },
                                },
                                Skill_Data = {
                                  type = "array",
                                  items = {
                                    type = "object",
                                    additional = true,
                                    properties = { Skill_Name = { type = "string" } },
                                  },
                                },
                              },
                            },
                          },
                        },
                        Language_Reference = {
                          type = "object",
                          additional = true,
                          properties = { WID = { type = "string" } },
                          required = { "WID" },
                        },
                        Name_Detail_Data = {
                          type = "object",
                          additional = true,
                          properties = {
                            Middle_Name = { type = "string" },
                            Social_Suffix_Reference = {
                              type = "object",
                              additional = true,
                              properties = { Predefined_Name_Component_ID = { type = "string" } },
                              required = { "Predefined_Name_Component_ID" },
                            },
                          },
                        },
                        Worker_Reference = {
                          type = "object",
                          additional = true,
                          properties = {
                            Employee_ID = { type = "string" },
                            WID = { type = "string" },
                          },
                        },
                      },
                    },
                    Override_Source_Reference_WID = { type = "string" },
                  },
                },
                zohorecruit = {
                  type = "object",
                  additional = true,
                  properties = { candidate = { type = "object", additional = true } },
                },
              },
            },
            screening_question_answers = {
              type = "array",
              items = {
                type = "object",
                additional = true,
                properties = {
                  answer = {
                    any_of = {
                      { type = "string" },
                      { type = "boolean" },
                      { type = "number", minimum = -1.7976931348623157e+308 },
                      { type = "array", items = { type = "string" } },
                      {
                        type = "string",
                        format = "date-time",
                        pattern = "^\\d{4}-\\d{2}-\\d{2}(T\\d{2}:\\d{2}:\\d{2}(\\.\\d+)?)?Z?$",
                      },
                      {
                        type = "object",
                        additional = true,
                        properties = {
                          content_type = { type = "string", pattern = "^[\\w.-]+\\/[\\w.-]+$" },
                          data = { type = "string" },
                          data_url = { type = "string", format = "uri" },
                          name = { type = "string" },
                        },
                        required = { "name" },
                      },
                    },
                  },
                  question_id = { type = "string" },
                },
                required = { "question_id", "answer" },
              },
            },
            source = {
              type = "object",
              additional = true,
              properties = {
                id = { type = "string" },
                name = { type = "string" },
                unified_key = { type = "string" },
              },
            },
            sourced_by = {
              type = "object",
              additional = true,
              properties = { user_id = { type = "string" } },
              required = { "user_id" },
            },
            stage_id = { type = "string" },
          },
          required = { "candidate" },
        },
      }
    end,
  },
  {
    name = "get_users",
    alias = "getUsers",
    method = "GET",
    path = "/ats/users",
    paginated = true,
    define = function()
      return {
        path_params = {},
        query = {
          { name = "cursor", schema = { type = "string" } },
          { name = "page_size", schema = { type = "integer", maximum = 250, minimum = 1 } },
          {
            name = "updated_after",
            schema = {
              type = "string",
              format = "date-time",
              pattern = "^\\d{4}-\\d{2}-\\d{2}(T\\d{2}:\\d{2}:\\d{2}(\\.\\d+)?)?Z?$",
            },
          },
          {
            name = "include_deleted",
            schema = { type = "string", enum = { "true", "false" } },
            boolean = true,
          },
          { name = "ids", schema = { type = "string" }, list = true },
          { name = "remote_ids", schema = { type = "string" }, list = true },
          { name = "emails", schema = { type = "string" }, list = true },
        },
      }
    end,
  },
  {
    name = "get_offers",
    alias = "getOffers",
    method = "GET",
    path = "/ats/offers",
    paginated = true,
    define = function()
      return {
        path_params = {},
        query = {
          { name = "cursor", schema = { type = "string" } },
          { name = "page_size", schema = { type = "integer", maximum = 250, minimum = 1 } },
          {
            name = "updated_after",
            schema = {
              type = "string",
              format = "date-time",
              pattern = "^\\d{4}-\\d{2}-\\d{2}(T\\d{2}:\\d{2}:\\d{2}(\\.\\d+)?)?Z?$",
            },
          },
          {
            name = "include_deleted",
            schema = { type = "string", enum = { "true", "false" } },
            boolean = true,
          },
          { name = "ids", schema = { type = "string" }, list = true },
          { name = "remote_ids", schema = { type = "string" }, list = true },
        },
      }
    end,
  },
  {
    name = "get_rejection_reasons",
    alias = "getRejectionReasons",
    method = "GET",
    path = "/ats/rejection-reasons",
    paginated = true,
    define = function()
      return {
        path_params = {},
        query = {
          { name = "cursor", schema = { type = "string" } },
          { name = "page_size", schema = { type = "integer", maximum = 250, minimum = 1 } },
          {
            name = "updated_after",
            schema = {
              type = "string",
              format = "date-time",
              pattern = "^\\d{4}-\\d{2}-\\d{2}(T\\d{2}:\\d{2}:\\d{2}(\\.\\d+)?)?Z?$",
            },
          },
          {
            name = "include_deleted",
            schema = { type = "string", enum = { "true", "false" } },
            boolean = true,
          },
          { name = "ids", schema = { type = "string" }, list = true },
          { name = "remote_ids", schema = { type = "string" }, list = true },
        },
      }
    end,
  },
  {
    name = "get_interviews",
    alias = "getInterviews",
    method = "GET",
    path = "/ats/interviews",
    paginated = true,
    define = function()
      return {
        path_params = {},
        query = {
          { name = "cursor", schema = { type = "string" } },
          { name = "page_size", schema = { type = "integer", maximum = 250, minimum = 1 } },
          {
            name = "updated_after",
            schema = {
              type = "string",
              format = "date-time",
              pattern = "^\\d{4}-\\d{2}-\\d{2}(T\\d{2}:\\d{2}:\\d{2}(\\.\\d+)?)?Z?$",
            },
          },
          {
            name = "include_deleted",
            schema = { type = "string", enum = { "true", "false" } },
            boolean = true,
          },
          { name = "ids", schema = { type = "string" }, list = true },
          { name = "remote_ids", schema = { type = "string" }, list = true },
          { name = "job_ids", schema = { type = "string" }, list = true },
        },
      }
    end,
  },
  {
    name = "import_tracked_application",
    alias = "importTrackedApplication",
    method = "POST",
    path = "/ats/import-tracked-application",
    paginated = false,
    define = function()
      return {
        path_params = {},
        query = {},
        body = {
          type = "object",
          additional = true,
          properties = {
            erecruiter = {
              any_of = {
                {
                  type = "object",
                  additional = true,
                  properties = {
                    application_remote_id = { type = "string" },
                    id_type = { type = "string", enum = { "application_and_job_remote_ids" } },
                    job_remote_id = { type = "string" },
                  },
                  required = { "id_type", "application_remote_id", "job_remote_id" },
                },
                {
                  type = "object",
                  additional = true,
                  properties = {
                    application_remote_id = { type = "string" },
                    candidate_remote_id = { type = "string" },
                    id_type = { type = "string", enum = { "application_and_candidate_remote_ids" } },
                  },
                  required = { "id_type", "candidate_remote_id", "application_remote_id" },
                },
              },
            },
            greenhouse = {
              type = "object",
              additional = true,
              properties = {
                application_id = { type = "string" },
                id_type = { type = "string", enum = { "application_id" } },
              },
              required = { "id_type", "application_id" },
            },
            onlyfy = {
              type = "object",
              additional = true,
              properties = {
                application_id = { type = "string" },
                id_type = { type = "string", enum = { "application_id" } },
              },
              required = { "id_type", "application_id" },
            },
            recruitee = {
              type = "object",
              additional = true,
              properties = {
                id_type = { type = "string", enum = { "placement_id" } },
                placement_id = { type = "string" },
              },
              required = { "id_type", "placement_id" },
            },
            smartrecruiters = {
              type = "object",
              additional = true,
              properties = {
                candidate_remote_id = { type = "string" },
                id_type = { type = "string", enum = { "candidate_and_job_remote_ids" } },
                job_remote_id = { type = "string" },
              },
              required = { "id_type", "candidate_remote_id", "job_remote_id" },
            },
            successfactors = {
              type = "object",
              additional = true,
              properties = {
                application_remote_id = { type = "string" },
                id_type = { type = "string", enum = { "application_remote_id" } },
              },
              required = { "id_type", "application_remote_id" },
            },
            tracked_at = {
              type = "string",
              format = "date-time",
              nullable = true,
              pattern = "^\\d{4}-\\d{2}-\\d{2}(T\\d{2}:\\d{2}:\\d{2}(\\.\\d+)?)?Z?$",
            },
          },
          required = { "tracked_at" },
        },
      }
    end,
  },
}

local function _define(op, key)
  local define = rawget(op, "define")
  if define then
    op.define = nil
    for k, v in pairs(define()) do rawset(op, k, v) end
  end
  return rawget(op, key)
end

local lazy = { __index = _define }
for _, op in ipairs(operations) do setmetatable(op, lazy) end
return operations
